#include "hopgate/upstream/dialer.hpp"

#include "hopgate/core/error.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/upstream/connector.hpp"

#include <spdlog/spdlog.h>

namespace hopgate::upstream {
namespace {

bool is_onion(const TargetAddress& t) {
  constexpr std::string_view suffix = ".onion";
  return t.is_domain() && (t.domain == "onion" || (t.domain.size() > suffix.size() && t.domain.ends_with(suffix)));
}

/// Target-side failures say nothing about the health of the hop that reported them.
bool hop_side_failure(const error_code& ec) {
  auto e = classify(ec);
  return !(e == ProxyError::connection_refused || e == ProxyError::host_unreachable || e == ProxyError::network_unreachable ||
           e == ProxyError::name_not_resolved || e == ProxyError::not_allowed || e == ProxyError::remote_dns_required);
}

struct HopRef {
  const std::string* name;
  const config::Hop* hop;
};

/// One attempt along a fixed list of hops.
awaitable<DialResult> dial_hops(const DialRequest& req, const std::vector<HopRef>& hops, dns::Resolver& resolver,
                                std::size_t& failed_index) {
  auto ex = co_await asio::this_coro::executor;
  const auto& cfg = *req.snapshot->config;
  DialResult r{tcp::socket(ex), {}, "direct", {}, {}, {}, {}, 0, {}};
  bool must_be_remote = req.remote_dns == config::RemoteDns::required || is_onion(req.target);
  failed_index = 0;

  auto timeout_for = [&](const config::Hop* h) {
    return to_clock(h && h->connect_timeout ? *h->connect_timeout : cfg.timeouts.connect);
  };

  // Resolve and connect to the first stop: the target (direct) or the first hop.
  TargetAddress first = hops.empty() ? req.target : TargetAddress::from_host(hops[0].hop->host, hops[0].hop->port);
  if (!hops.empty()) r.where = "upstream " + *hops[0].name;
  std::vector<asio::ip::address> addresses;
  if (first.is_domain()) {
    if (hops.empty() && must_be_remote) {
      r.ec = ProxyError::remote_dns_required;
      co_return r;
    }
    ++r.local_lookups;
    auto res = co_await resolver.resolve(first.domain, &cfg.dns);
    if (res.ec) {
      r.ec = ProxyError::name_not_resolved;
      r.detail = hops.empty() ? "cannot resolve " + first.domain : "cannot resolve upstream host " + first.domain;
      co_return r;
    }
    addresses = std::move(res.addresses);
  } else {
    addresses.push_back(*first.ip);
  }
  auto deadline = Clock::now() + timeout_for(hops.empty() ? nullptr : hops[0].hop);
  if (auto ec = co_await connect_any(r.socket, addresses, first.port, deadline)) {
    r.ec = ec;
    co_return r;
  }
  r.socket.set_option(tcp::no_delay(true));
  if (hops.empty()) {
    error_code ec;
    auto local = r.socket.local_endpoint(ec);
    r.bound = TargetAddress::from_ip(local.address(), local.port());
    co_return r;
  }

  for (std::size_t i = 0; i < hops.size(); ++i) {
    failed_index = i;
    const auto& hop = *hops[i].hop;
    r.where = "upstream " + *hops[i].name;
    r.hops.push_back(*hops[i].name);
    bool last = i + 1 == hops.size();
    TargetAddress next = last ? req.target : TargetAddress::from_host(hops[i + 1].hop->host, hops[i + 1].hop->port);
    // socks4:// and socks5:// hops take addresses: resolve here (the one kind of hop that leaks DNS).
    if (next.is_domain() && (hop.scheme == config::Hop::Scheme::socks4 || hop.scheme == config::Hop::Scheme::socks5)) {
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
      asio::ip::address pick = res.addresses.front();
      if (hop.scheme == config::Hop::Scheme::socks4)
        for (auto& a : res.addresses)
          if (a.is_v4()) {
            pick = a;
            break;
          }
      next = TargetAddress::from_ip(pick, next.port);
    }
    Credentials creds{hop.username, hop.password};
    if (hop.pass_client_credentials && !req.client.user.empty()) creds = {req.client.user, req.client.password};
    std::uint8_t command = last ? req.socks_command : 0x01;
    auto handshake = [&]() -> awaitable<HandshakeResult> {
      switch (hop.scheme) {
      case config::Hop::Scheme::socks4:
      case config::Hop::Scheme::socks4a: co_return co_await socks4_handshake(r.socket, next, hop.username, command);
      case config::Hop::Scheme::socks5:
      case config::Hop::Scheme::socks5h: co_return co_await socks5_handshake(r.socket, next, &creds, command);
      case config::Hop::Scheme::http: co_return co_await http_connect_handshake(r.socket, next, &creds);
      }
      co_return HandshakeResult{ProxyError::general_failure, {}, {}, {}};
    };
    auto hs = co_await with_timeout(handshake(), timeout_for(&hop));
    if (!hs) {
      r.ec = ProxyError::timeout;
      r.detail = "handshake timed out";
      co_return r;
    }
    if (hs->ec) {
      r.ec = hs->ec;
      r.detail = std::move(hs->detail);
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

} // namespace

std::string DialResult::error_message() const {
  std::string msg = where + ": " + (ec.category() == proxy_error_category() ? ec.message() : error_code(classify(ec)).message());
  if (!detail.empty()) msg += " (" + detail + ")";
  return msg;
}

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
  // Each chain position is one upstream or a group; groups are tried member by member (failover)
  // while the failure is the hop's own, not the target's.
  struct Position {
    std::vector<HopRef> candidates;
    std::size_t chosen = 0;
  };
  std::vector<Position> positions;
  if (req.via.kind == config::Via::Kind::chain) {
    for (const auto& name : req.via.chain) {
      const auto* up = cfg.find_upstream(name);
      if (!up) co_return DialResult{tcp::socket(ex), ProxyError::general_failure, "upstream " + name, {}, {}, {}, "not configured", 0, {}};
      Position p;
      if (auto* hop = std::get_if<config::Hop>(&up->kind)) p.candidates.push_back({&up->name, hop});
      else
        for (const auto& m : std::get<config::Group>(up->kind).members) {
          const auto* member = cfg.find_upstream(m);
          if (member)
            if (auto* h = std::get_if<config::Hop>(&member->kind)) p.candidates.push_back({&member->name, h});
        }
      positions.push_back(std::move(p));
    }
  }
  std::string failures;
  auto started = Clock::now();
  unsigned lookups = 0;
  for (;;) {
    std::vector<HopRef> hops;
    for (auto& p : positions) hops.push_back(p.candidates[p.chosen]);
    std::size_t failed = 0;
    auto r = co_await dial_hops(req, hops, resolver, failed);
    lookups += r.local_lookups;
    r.local_lookups = lookups;
    r.took = Clock::now() - started;
    if (!r.ec || hops.empty() || !hop_side_failure(r.ec)) co_return r;
    auto& pos = positions[failed];
    if (pos.candidates.size() == 1) co_return r;
    failures += (failures.empty() ? "" : "; ") + r.error_message();
    if (++pos.chosen == pos.candidates.size()) {
      r.where = "group " + req.via.chain[failed];
      r.detail = "every member failed: " + failures;
      co_return r;
    }
  }
}

} // namespace hopgate::upstream
