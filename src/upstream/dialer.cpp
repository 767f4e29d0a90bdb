#include "hopgate/upstream/dialer.hpp"

#include "hopgate/core/error.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/upstream/connector.hpp"
#include "hopgate/routing/router.hpp"
#include "hopgate/upstream/health.hpp"

#include <spdlog/spdlog.h>

namespace hopgate::upstream {
namespace {

namespace s4 = codec::socks4;
namespace s5 = codec::socks5;

s5::Command s5_command(routing::Command c) {
  switch (c) {
  case routing::Command::connect: return s5::Command::connect;
  case routing::Command::bind: return s5::Command::bind;
  case routing::Command::udp_associate: return s5::Command::udp_associate;
  }
  return s5::Command::connect;
}

/// Failure replies in which a hop reports on the next stop rather than on itself.
bool reply_about_target(const error_code& ec) {
  auto e = classify(ec);
  return e == ProxyError::connection_refused || e == ProxyError::host_unreachable || e == ProxyError::network_unreachable ||
         e == ProxyError::not_allowed || e == ProxyError::timeout || e == ProxyError::name_not_resolved ||
         e == ProxyError::address_type_not_supported || e == ProxyError::command_not_supported;
}

/// The address a socks4:// or socks5:// hop is given for a name resolved here (those hops take
/// addresses: the one kind of hop that leaks DNS). SOCKS4 carries IPv4 only.
asio::ip::address address_for_hop(const std::vector<asio::ip::address>& addresses, config::Hop::Scheme scheme) {
  if (scheme == config::Hop::Scheme::socks4)
    for (const auto& a : addresses)
      if (a.is_v4()) return a;
  return addresses.front();
}

/// Asks `hop`, connected on `socket`, for `command` toward `next` (by value: a coroutine's
/// parameters live in its frame).
awaitable<HandshakeResult> hop_handshake(tcp::socket& socket, const config::Hop& hop, TargetAddress next, Credentials creds,
                                         routing::Command command) {
  switch (hop.scheme) {
  case config::Hop::Scheme::socks4:
  case config::Hop::Scheme::socks4a:
    if (command == routing::Command::udp_associate) co_return HandshakeResult{ProxyError::command_not_supported, {}, {}, {}};
    co_return co_await socks4_handshake(socket, next, hop.username,
                                        command == routing::Command::bind ? s4::Command::bind : s4::Command::connect);
  case config::Hop::Scheme::socks5:
  case config::Hop::Scheme::socks5h: co_return co_await socks5_handshake(socket, next, &creds, s5_command(command));
  case config::Hop::Scheme::http: co_return co_await http_connect_handshake(socket, next, &creds);
  }
  co_return HandshakeResult{ProxyError::general_failure, {}, {}, {}};
}

/// How long one hop may take to connect and answer (its own connect_timeout, else the config's).
Clock::duration hop_timeout_of(const config::Hop* h, const config::Config& cfg) {
  return to_clock(h && h->connect_timeout ? *h->connect_timeout : cfg.timeouts.connect);
}

/// Resolves (when it is a name) and connects to the first stop of an attempt: the target when
/// there are no hops, else the first hop. False, with r.ec set, when that fails.
awaitable<bool> connect_first_stop(const DialRequest& req, const std::vector<config::NamedHop>& hops, dns::Resolver& resolver,
                                   DialResult& r, Clock::duration hop_timeout, Clock::time_point attempt_deadline) {
  const auto& cfg = *req.snapshot->config;
  TargetAddress first = hops.empty() ? req.target : TargetAddress::from_host(hops[0].hop->host, hops[0].hop->port);
  std::vector<asio::ip::address> addresses;
  if (first.is_domain()) {
    if (hops.empty() && routing::must_resolve_remotely(req.remote_dns, req.target)) {
      r.ec = ProxyError::remote_dns_required;
      co_return false;
    }
    ++r.local_lookups;
    auto res = co_await resolver.resolve(first.domain, &cfg.dns);
    if (res.ec) {
      r.ec = ProxyError::name_not_resolved;
      r.detail = hops.empty() ? "cannot resolve " + first.domain : "cannot resolve upstream host " + first.domain;
      co_return false;
    }
    addresses = std::move(res.addresses);
  } else {
    addresses.push_back(*first.ip);
  }
  auto deadline = std::min(Clock::now() + hop_timeout, attempt_deadline);
  if (auto ec = co_await connect_any(r.socket, addresses, first.port, deadline)) {
    r.ec = ec;
    co_return false;
  }
  r.socket.set_option(tcp::no_delay(true));
  co_return true;
}

/// One attempt along a fixed list of hops.
/// `failed_index` and `hop_fault` say which hop is to blame when the attempt fails: the hop we
/// could not reach or that broke its handshake, or the next hop when a hop reports that it
/// could not reach it. A failure the last hop reports about the target is nobody's fault.
/// `attempt_deadline` bounds the whole attempt (connects and handshakes) on top of each hop's timeout.
awaitable<DialResult> dial_hops(const DialRequest& req, const std::vector<config::NamedHop>& hops, dns::Resolver& resolver,
                                std::size_t& failed_index, bool& hop_fault, Clock::time_point attempt_deadline) {
  auto ex = co_await asio::this_coro::executor;
  const auto& cfg = *req.snapshot->config;
  DialResult r{tcp::socket(ex), {}, "direct", {}, {}, {}, {}, 0, {}};
  bool must_be_remote = routing::must_resolve_remotely(req.remote_dns, req.target);
  failed_index = 0;
  hop_fault = !hops.empty(); // until the first hop is reached, any failure is the first hop's

  auto timeout_for = [&](const config::Hop* h) {
    auto t = hop_timeout_of(h, cfg);
    auto left = attempt_deadline - Clock::now();
    return left < t ? std::max(left, Clock::duration::zero()) : t;
  };

  if (!hops.empty()) r.where = "upstream " + *hops[0].name;
  auto first_timeout = hop_timeout_of(hops.empty() ? nullptr : hops[0].hop, cfg);
  if (!co_await connect_first_stop(req, hops, resolver, r, first_timeout, attempt_deadline)) co_return r;
  if (hops.empty()) {
    error_code ec;
    auto local = r.socket.local_endpoint(ec);
    r.bound = TargetAddress::from_ip(local.address(), local.port());
    co_return r;
  }

  for (std::size_t i = 0; i < hops.size(); ++i) {
    failed_index = i;
    hop_fault = true;
    const auto& hop = *hops[i].hop;
    r.where = "upstream " + *hops[i].name;
    r.hops.push_back(*hops[i].name);
    bool last = i + 1 == hops.size();
    TargetAddress next = last ? req.target : TargetAddress::from_host(hops[i + 1].hop->host, hops[i + 1].hop->port);
    // socks4:// and socks5:// hops take addresses: resolve here (the one kind of hop that leaks DNS).
    if (next.is_domain() && (hop.scheme == config::Hop::Scheme::socks4 || hop.scheme == config::Hop::Scheme::socks5)) {
      hop_fault = !last; // resolving the target's name is not the hop's failure
      if (last && must_be_remote) {
        r.ec = ProxyError::remote_dns_required;
        r.detail = std::string(config::to_string(hop.scheme)) + " hop would resolve " + next.domain + " locally";
        co_return r;
      }
      ++r.local_lookups;
      auto res = co_await resolver.resolve(next.domain, &cfg.dns);
      if (res.ec) {
        r.ec = ProxyError::name_not_resolved;
        r.detail = "cannot resolve " + next.domain;
        co_return r;
      }
      next = TargetAddress::from_ip(address_for_hop(res.addresses, hop.scheme), next.port);
    }
    Credentials creds{hop.username, hop.password};
    if (hop.pass_client_credentials && !req.client.user.empty()) creds = {req.client.user, req.client.password};
    hop_fault = true;
    // Hops before the last are asked to connect to the next one; the last is asked what the client asked.
    auto command = last ? req.command : routing::Command::connect;
    auto hs = co_await with_timeout(hop_handshake(r.socket, hop, next, std::move(creds), command), timeout_for(&hop));
    if (!hs) {
      r.ec = ProxyError::timeout;
      r.detail = "handshake timed out";
      co_return r;
    }
    if (hs->ec) {
      r.ec = hs->ec;
      r.detail = std::move(hs->detail);
      if (!reply_about_target(hs->ec)) hop_fault = true;
      else if (last) hop_fault = false;
      else {
        // This hop could not reach the next one: the error is about the next hop, as reported by this one.
        failed_index = i + 1;
        hop_fault = true;
        r.where = "upstream " + *hops[i + 1].name;
        r.detail = (r.detail.empty() ? "" : r.detail + " ") + "from upstream " + *hops[i].name;
      }
      co_return r;
    }
    r.bound = hs->bound;
    r.pending = std::move(hs->pending);
    if (!last && !r.pending.empty()) {
      r.ec = ProxyError::upstream_protocol_error;
      co_return r;
    }
  }
  co_return r;
}

// Each chain position is one upstream, a named chain or a group. A group's members (single
// upstreams or named chains) are ordered by its strategy and health; a member that fails on
// its own side is marked and the next one is tried within the same request, so the client
// sees an error only when every member failed.
struct Candidate {
  const std::string* name;            ///< the upstream health is kept for (a chain member: the chain)
  std::vector<config::NamedHop> hops; ///< one, or a named chain's hops
};
struct Position {
  std::vector<Candidate> candidates;
  const config::Group* group = nullptr;
  std::size_t chosen = 0;
};
/// Where a hop of an attempt came from (health is kept per hop and, for a named chain, for the
/// chain as a whole).
struct Leg {
  std::size_t position;
  const Candidate* candidate;
  bool ends_candidate; ///< the last hop of its candidate: the chain as a whole worked
};

/// The positions of the route's chain, each with its candidates in the order they are tried.
/// A result (the error) when a name is not configured or a group has no usable member.
std::optional<DialResult> plan_positions(const DialRequest& req, const config::Config& cfg, const asio::any_io_executor& ex,
                                         std::vector<Position>& positions) {
  auto candidate_of = [&cfg](const config::Upstream& up) { return Candidate{&up.name, cfg.hops_of(up)}; };
  if (req.via.kind != config::Via::Kind::chain) return std::nullopt;
  for (const auto& name : req.via.chain) {
    const auto* up = cfg.find_upstream(name);
    if (!up) return DialResult{tcp::socket(ex), ProxyError::general_failure, "upstream " + name, {}, {}, {}, "not configured", 0, {}};
    Position p;
    if (auto* g = std::get_if<config::Group>(&up->kind)) {
      p.group = g;
      using K = config::Group::HashKey;
      std::string hash_input = g->hash_key == K::target   ? req.target.to_string()
                               : g->hash_key == K::client ? req.client.address.to_string()
                                                          : req.client.user;
      for (const auto& m : order_members(*g, up->name, hash_input))
        if (const auto* member = cfg.find_upstream(m))
          if (auto c = candidate_of(*member); !c.hops.empty()) p.candidates.push_back(std::move(c));
      if (p.candidates.empty())
        return DialResult{tcp::socket(ex), ProxyError::general_failure, "group " + name, {}, {}, {}, "no members", 0, {}};
    } else {
      p.candidates.push_back(candidate_of(*up));
    }
    positions.push_back(std::move(p));
  }
  return std::nullopt;
}

/// The chosen candidate of each position, flattened into the hops to dial.
void flatten(const std::vector<Position>& positions, std::vector<config::NamedHop>& hops, std::vector<Leg>& legs) {
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const auto& c = positions[i].candidates[positions[i].chosen];
    for (std::size_t k = 0; k < c.hops.size(); ++k) {
      hops.push_back(c.hops[k]);
      legs.push_back({i, &c, k + 1 == c.hops.size()});
    }
  }
}

/// While other healthy members could still be tried, an attempt gets only its share of the
/// time left, so that a member that hangs (accepts, never answers) cannot use up the whole
/// connect deadline before the next member is tried.
Clock::time_point attempt_deadline(const std::vector<Position>& positions, Health& health, Clock::time_point now,
                                   Clock::time_point connect_deadline) {
  std::size_t spare = 0;
  for (const auto& p : positions)
    for (std::size_t j = p.chosen + 1; j < p.candidates.size(); ++j) spare += health.available(*p.candidates[j].name);
  if (!spare) return Clock::time_point::max();
  return now + (connect_deadline - now) / static_cast<long>(spare + 1);
}

} // namespace

std::string failure_message(std::string_view where, const error_code& ec, std::string_view detail) {
  std::string msg(where);
  msg += ": ";
  msg += ec.category() == proxy_error_category() ? ec.message() : error_code(classify(ec)).message();
  if (!detail.empty()) msg.append(" (").append(detail).append(")");
  return msg;
}

std::string DialResult::error_message() const { return failure_message(where, ec, detail); }

awaitable<error_code> connect_any(tcp::socket& socket, const std::vector<asio::ip::address>& addresses, std::uint16_t port,
                                  Clock::time_point deadline) {
  error_code last = ProxyError::host_unreachable;
  for (const auto& a : addresses) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero())
      co_return error_code(ProxyError::timeout);
    error_code ec;
    if (socket.is_open()) socket.close(ec);
    auto done = co_await with_timeout(socket.async_connect(tcp::endpoint(a, port), use_nothrow), left);
    if (!done) {
      last = ProxyError::timeout;
      continue;
    }
    auto [cec] = *done;
    if (!cec) co_return error_code{};
    last = cec;
  }
  co_return last;
}

awaitable<DialResult> dial(const DialRequest& req, dns::Resolver& resolver) {
  auto ex = co_await asio::this_coro::executor;
  const auto& cfg = *req.snapshot->config;
  if (req.via.kind == config::Via::Kind::block) {
    co_return DialResult{tcp::socket(ex), ProxyError::blocked, "route", {}, {}, {}, {}, 0, {}};
  }
  std::vector<Position> positions;
  if (auto refused = plan_positions(req, cfg, ex, positions)) co_return std::move(*refused);
  auto& health = Health::instance();
  std::string failures;
  auto started = Clock::now();
  unsigned lookups = 0;
  for (;;) {
    std::vector<config::NamedHop> hops;
    std::vector<Leg> legs;
    flatten(positions, hops, legs);
    std::size_t failed = 0;
    bool hop_fault = false;
    auto attempt_started = Clock::now();
    auto deadline = attempt_deadline(positions, health, attempt_started, started + to_clock(cfg.timeouts.connect));
    auto r = co_await dial_hops(req, hops, resolver, failed, hop_fault, deadline);
    lookups += r.local_lookups;
    r.local_lookups = lookups;
    r.took = Clock::now() - started;
    auto took = Clock::now() - attempt_started;
    auto record_success = [&](std::size_t i, bool hold) {
      auto credit = [&](const std::string& name) {
        health.record_success(name, took);
        if (hold) r.holds.push_back(health.hold(name));
      };
      credit(*hops[i].name);
      if (legs[i].candidate->name != hops[i].name && legs[i].ends_candidate) credit(*legs[i].candidate->name);
    };
    if (!r.ec) {
      for (std::size_t i = 0; i < hops.size(); ++i) record_success(i, true);
      co_return r;
    }
    if (hops.empty()) co_return r;
    if (!hop_fault) {
      // The hops did their job; the target failed. Hops before the failing one worked too.
      for (std::size_t i = 0; i < failed && i < hops.size(); ++i) record_success(i, false);
      co_return r;
    }
    auto& pos = positions[legs[failed].position];
    const auto& cand = *legs[failed].candidate;
    const auto* g = pos.group;
    auto max_fails = g ? g->max_fails : 1;
    auto window = to_clock(g ? g->fail_window : config::Seconds(30));
    health.record_failure(*hops[failed].name, r.error_message(), max_fails, window);
    if (cand.name != hops[failed].name) health.record_failure(*cand.name, r.error_message(), max_fails, window);
    if (pos.candidates.size() == 1) co_return r;
    failures += (failures.empty() ? "" : "; ") + r.error_message();
    bool out_of_time = Clock::now() - started > to_clock(cfg.timeouts.connect);
    if (++pos.chosen == pos.candidates.size() || out_of_time) {
      r.where = "group " + req.via.chain[legs[failed].position];
      r.detail = std::string(out_of_time ? "connect deadline passed; " : "every member failed: ") + failures;
      co_return r;
    }
  }
}

} // namespace hopgate::upstream
