#include "hopgate/frontend/udp_associate.hpp"

#include "hopgate/codec/socks5.hpp"
#include "hopgate/core/cidr.hpp"
#include "hopgate/core/error.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/routing/router.hpp"

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <mutex>
#include <random>

namespace hopgate::frontend {

using observe::udp_counters;
using observe::UdpCounters;
namespace {

using udp = asio::ip::udp;
using Bytes = std::vector<std::uint8_t>;
namespace s5 = codec::socks5;
constexpr auto relaxed = std::memory_order_relaxed;

/// The longest SOCKS UDP header: RSV(2) FRAG ATYP, a 255-byte domain with its length, PORT.
constexpr std::size_t max_header = 4 + 1 + 255 + 2;
/// Datagrams waiting for a name lookup (per name) or for an upstream association (per hop):
/// bounded, so that a client cannot queue memory behind a slow lookup.
constexpr std::size_t max_queued_per_name = 16;
constexpr std::size_t max_queued_per_channel = 64;
constexpr std::size_t max_cached_names = 256;
constexpr auto name_ttl = std::chrono::seconds(60);    // the resolver gives no TTL: keep answers a minute
constexpr auto negative_ttl = std::chrono::seconds(5); // and failures briefly, so a retry storm does not
constexpr auto channel_retry = std::chrono::seconds(5); // a failed upstream association is retried after this

enum class Drop { foreign, malformed, fragment, too_big, no_route, unresolved, upstream, send_error };

void count_drop(Drop why) {
  auto& c = udp_counters();
  c.dropped.fetch_add(1, relaxed);
  switch (why) {
  case Drop::foreign: c.dropped_foreign.fetch_add(1, relaxed); break;
  case Drop::malformed: c.dropped_malformed.fetch_add(1, relaxed); break;
  case Drop::fragment: c.dropped_fragment.fetch_add(1, relaxed); break;
  case Drop::too_big: c.dropped_too_big.fetch_add(1, relaxed); break;
  case Drop::no_route: c.dropped_no_route.fetch_add(1, relaxed); break;
  case Drop::unresolved: c.dropped_unresolved.fetch_add(1, relaxed); break;
  case Drop::upstream: c.dropped_upstream.fetch_add(1, relaxed); break;
  case Drop::send_error: c.dropped_send_error.fetch_add(1, relaxed); break;
  }
}

/// The SOCKS5 UDP header of a datagram, either way: its length, or nullopt (counted as a drop)
/// when it is malformed, a fragment (optional in RFC 1928 section 7: we drop them) or too big.
std::optional<std::size_t> unwrap(std::span<const std::uint8_t> datagram, s5::UdpHeader& h, std::size_t max_payload) {
  error_code dec;
  auto hl = s5::decode_udp_header(datagram, h, dec);
  if (dec) {
    count_drop(Drop::malformed);
    return std::nullopt;
  }
  if (h.frag != 0) {
    count_drop(Drop::fragment);
    return std::nullopt;
  }
  if (datagram.size() - hl > max_payload) {
    count_drop(Drop::too_big);
    return std::nullopt;
  }
  return hl;
}

/// Association limits, in total and per client address, across every io_context.
class Slots {
public:
  bool acquire(const asio::ip::address& client, std::size_t max_total, std::size_t max_per_client) {
    std::lock_guard lock(mutex_);
    auto it = per_client_.find(client);
    std::size_t mine = it == per_client_.end() ? 0 : it->second;
    if ((max_total != 0 && total_ >= max_total) || (max_per_client != 0 && mine >= max_per_client)) return false;
    ++per_client_[client];
    ++total_;
    return true;
  }
  void release(const asio::ip::address& client) {
    std::lock_guard lock(mutex_);
    auto it = per_client_.find(client);
    if (it == per_client_.end()) return;
    if (--it->second == 0) per_client_.erase(it);
    --total_;
  }

private:
  std::mutex mutex_;
  std::map<asio::ip::address, std::size_t> per_client_;
  std::size_t total_ = 0;
};

Slots& slots() {
  static Slots s;
  return s;
}

struct SlotGuard {
  asio::ip::address client;
  ~SlotGuard() { slots().release(client); }
};

/// One upstream association per (config generation, rule): the channel every datagram routed
/// by that rule takes.
using ChannelKey = std::pair<std::uint64_t, std::size_t>;

/// Where one datagram goes.
struct Action {
  enum class Kind { direct, upstream, drop } kind = Kind::drop;
  ChannelKey key{};
  std::shared_ptr<const routing::Snapshot> snapshot; ///< upstream: to dial the route
  config::Via via;                                   ///< upstream: the chain
  config::RemoteDns remote_dns = config::RemoteDns::any;
  bool resolve_locally = true; ///< domain destinations are resolved here (direct, socks5:// hops)
  bool must_be_remote = false; ///< the rule (or .onion) forbids resolving here
};

/// A UDP ASSOCIATE that hopgate holds on an upstream SOCKS5 hop.
struct Channel {
  explicit Channel(const asio::any_io_executor& ex) : control(ex), socket(ex) {}
  enum class State { connecting, ready, failed };
  State state = State::connecting;
  tcp::socket control; ///< the association lives as long as this connection
  udp::socket socket;  ///< connected to the hop's UDP relay
  std::string name;    ///< the last hop, for logs
  Clock::time_point retry_at{};
  struct Queued {
    Bytes wrapped; ///< header for the hop + payload
    std::size_t payload = 0;
  };
  std::deque<Queued> queue;
};

/// A name this association resolved (or is resolving), with the datagrams waiting for it.
struct NameEntry {
  std::vector<asio::ip::address> addresses; ///< empty: the lookup failed
  Clock::time_point expires{};
  bool in_flight = false;
  struct Queued {
    Action action;
    std::uint16_t port = 0;
    Bytes payload;
  };
  std::deque<Queued> queue;
};

/// The state one association's coroutines share. Owned by shared_ptr: the session coroutine
/// and the tasks it spawns (reply readers, lookups, upstream dials) all hold it; `closed`
/// tells the stragglers that the session is gone and `conn` must not be touched any more.
struct Association {
  Association(const asio::any_io_executor& e, SessionContext c, observe::Connection& cn, routing::Client w,
              std::size_t max)
      : ex(e), ctx(c), conn(cn), request{{}, std::move(w), routing::Command::udp_associate}, relay(e), out4(e), out6(e),
        max_datagram(max) {}

  asio::any_io_executor ex;
  SessionContext ctx;
  observe::Connection& conn;
  /// Who asks, for every datagram's route; the target is set per datagram by dispatch (one at a
  /// time: client_loop awaits each), so the client's names are not copied per datagram.
  routing::Request request;
  udp::socket relay;      ///< faces the client
  udp::socket out4, out6; ///< direct routes, opened on first use
  std::size_t max_datagram;

  asio::ip::address client_ip;  ///< unmapped
  std::uint16_t client_port = 0; ///< 0 until the client's first datagram (unless its request named one)
  udp::endpoint client_ep;       ///< where replies go
  bool client_known = false;

  std::map<std::string, NameEntry> names;
  std::map<ChannelKey, std::shared_ptr<Channel>> channels;
  Clock::time_point last_activity = Clock::now();
  TargetAddress last_destination; ///< shown in the registry; updated when it changes
  std::uint64_t sent = 0, received = 0;
  bool closed = false;

  void close() {
    closed = true;
    error_code ignored;
    relay.close(ignored);
    out4.close(ignored);
    out6.close(ignored);
    for (auto& [k, ch] : channels) {
      ch->socket.close(ignored);
      ch->control.close(ignored);
    }
  }
};
using AssociationPtr = std::shared_ptr<Association>;

void spawn(const AssociationPtr& a, awaitable<void> task, const char* what) {
  asio::co_spawn(a->ex, std::move(task), [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("udp {}: {}", what, x.what());
    }
  });
}

/// What the Router's verdict means for one datagram: a route that refuses it (block, port,
/// a last hop that is not SOCKS5) drops it.
Action action_for(const std::shared_ptr<const routing::Snapshot>& snap, const routing::Verdict& v) {
  Action act;
  if (v.refusal != routing::Verdict::Refusal::none) return act;
  const auto& d = v.decision;
  act.must_be_remote = v.remote_dns_required;
  act.remote_dns = v.remote_dns;
  if (d.via.kind == config::Via::Kind::direct) {
    act.kind = Action::Kind::direct;
    return act;
  }
  act.kind = Action::Kind::upstream;
  act.key = {snap->generation, d.rule_index};
  act.snapshot = snap;
  act.via = d.via;
  // socks5:// hops take addresses (we resolve); socks5h:// take names. A group mixing both gets
  // names: the safe side for DNS privacy, and every SOCKS5 server accepts a domain.
  act.resolve_locally =
      routing::every_last_hop(*snap->config, d.via, [](const config::Hop& h) { return h.scheme == config::Hop::Scheme::socks5; });
  return act;
}

/// Sends a datagram (header + payload) to the client.
awaitable<void> to_client(Association& a, std::span<const std::uint8_t> wrapped, std::size_t payload) {
  if (a.closed || !a.client_known) co_return;
  auto [ec, n] = co_await a.relay.async_send_to(asio::buffer(wrapped.data(), wrapped.size()), a.client_ep, use_nothrow);
  (void)n;
  if (a.closed) co_return;
  if (ec) {
    count_drop(Drop::send_error);
    co_return;
  }
  auto& c = udp_counters();
  c.datagrams_out.fetch_add(1, relaxed);
  c.bytes_out.fetch_add(payload, relaxed);
  a.conn.bytes.down.fetch_add(payload, relaxed);
  a.last_activity = Clock::now();
  ++a.received;
}

void count_sent(Association& a, std::size_t payload) {
  auto& c = udp_counters();
  c.datagrams_in.fetch_add(1, relaxed);
  c.bytes_in.fetch_add(payload, relaxed);
  a.conn.bytes.up.fetch_add(payload, relaxed);
  ++a.sent;
}

/// Replies arriving on a direct outgoing socket: wrapped with their source and sent on.
awaitable<void> direct_replies(AssociationPtr a, udp::socket& s) {
  // Room for the header in front of the payload, so that wrapping copies only the header.
  Bytes buf(max_header + a->max_datagram + 1);
  Bytes header;
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await s.async_receive_from(asio::buffer(buf.data() + max_header, buf.size() - max_header), from, use_nothrow);
    if (a->closed || ec == asio::error::operation_aborted || !s.is_open()) co_return;
    if (ec) continue; // an ICMP error for an earlier datagram: the socket is still good
    if (n > a->max_datagram) {
      count_drop(Drop::too_big);
      continue;
    }
    header.clear();
    s5::encode_udp_header(header, TargetAddress::from_ip(unmap_v4(from.address()), from.port()));
    auto* start = buf.data() + max_header - header.size();
    std::copy(header.begin(), header.end(), start);
    co_await to_client(*a, {start, header.size() + n}, n);
  }
}

awaitable<void> send_direct(AssociationPtr a, const TargetAddress& target, std::span<const std::uint8_t> payload) {
  udp::endpoint to(unmap_v4(*target.ip), target.port);
  bool v4 = to.address().is_v4();
  auto& s = v4 ? a->out4 : a->out6;
  if (!s.is_open()) {
    error_code ec;
    s.open(v4 ? udp::v4() : udp::v6(), ec);
    if (!ec) s.bind(udp::endpoint(v4 ? udp::v4() : udp::v6(), 0), ec);
    if (ec) {
      error_code ignored;
      s.close(ignored);
      spdlog::debug("conn {} udp: cannot open an outgoing {} socket: {}", a->conn.id, v4 ? "IPv4" : "IPv6", ec.message());
      count_drop(Drop::send_error);
      co_return;
    }
    spawn(a, direct_replies(a, s), "direct replies");
  }
  auto [ec, n] = co_await s.async_send_to(asio::buffer(payload.data(), payload.size()), to, use_nothrow);
  (void)n;
  if (a->closed) co_return;
  if (ec) {
    count_drop(Drop::send_error);
    co_return;
  }
  count_sent(*a, payload.size());
}

awaitable<void> send_channel(AssociationPtr a, std::shared_ptr<Channel> ch, std::span<const std::uint8_t> wrapped, std::size_t payload) {
  auto [ec, n] = co_await ch->socket.async_send(asio::buffer(wrapped.data(), wrapped.size()), use_nothrow);
  (void)n;
  if (a->closed) co_return;
  if (ec) {
    count_drop(Drop::send_error);
    co_return;
  }
  count_sent(*a, payload);
}

/// Datagrams from an upstream hop's relay: already wrapped with their source by the hop.
awaitable<void> channel_replies(AssociationPtr a, std::shared_ptr<Channel> ch) {
  Bytes buf(max_header + a->max_datagram + 1);
  for (;;) {
    auto [ec, n] = co_await ch->socket.async_receive(asio::buffer(buf), use_nothrow);
    if (a->closed || ec == asio::error::operation_aborted || !ch->socket.is_open()) co_return;
    if (ec) continue; // ICMP port unreachable for an earlier datagram
    s5::UdpHeader h;
    auto hl = unwrap({buf.data(), n}, h, a->max_datagram);
    if (!hl) continue;
    co_await to_client(*a, {buf.data(), n}, n - *hl);
  }
}

/// The hop keeps its association while this TCP connection lives: when the hop closes it, the
/// channel is forgotten and the next datagram opens a new one.
awaitable<void> channel_control(AssociationPtr a, std::shared_ptr<Channel> ch, ChannelKey key) {
  std::array<std::uint8_t, 256> chunk;
  for (;;) {
    auto [ec, n] = co_await ch->control.async_read_some(asio::buffer(chunk), use_nothrow);
    (void)n;
    if (ec) break;
  }
  error_code ignored;
  ch->socket.close(ignored);
  ch->control.close(ignored);
  if (a->closed) co_return;
  spdlog::debug("conn {} udp: upstream {} closed its association", a->conn.id, ch->name);
  auto it = a->channels.find(key);
  if (it != a->channels.end() && it->second == ch) a->channels.erase(it);
}

awaitable<void> open_channel(AssociationPtr a, std::shared_ptr<Channel> ch, ChannelKey key, Action action) {
  // DST 0.0.0.0:0: we cannot know the address the hop will see our datagrams come from (RFC 1928).
  upstream::DialRequest req{action.snapshot, action.via, TargetAddress::from_ip(asio::ip::address_v4::any(), 0), a->request.client,
                            action.remote_dns, routing::Command::udp_associate};
  auto r = co_await upstream::dial(req, a->ctx.worker.resolver);
  if (a->closed) co_return;
  auto fail = [&](const std::string& why) {
    spdlog::debug("conn {} udp: upstream association via {} failed: {}", a->conn.id, action.via.display(), why);
    ch->state = Channel::State::failed;
    ch->retry_at = Clock::now() + channel_retry;
    for (std::size_t i = 0; i < ch->queue.size(); ++i) count_drop(Drop::upstream);
    ch->queue.clear();
    error_code ignored;
    ch->control.close(ignored);
  };
  if (r.ec) {
    fail(r.error_message());
    co_return;
  }
  ch->name = r.hops.empty() ? action.via.display() : r.hops.back();
  // The hop's relay: its BND address, where 0.0.0.0 / :: means "the address you reached me at".
  asio::ip::address relay_ip;
  std::string relay_host;
  if (r.bound.is_domain()) relay_host = r.bound.domain;
  else if (!r.bound.ip->is_unspecified()) relay_ip = unmap_v4(*r.bound.ip);
  else if (r.hops.size() == 1) {
    error_code ec;
    auto remote = r.socket.remote_endpoint(ec);
    if (ec) {
      fail("control connection lost");
      co_return;
    }
    relay_ip = unmap_v4(remote.address());
  } else if (const auto* up = action.snapshot->config->find_upstream(ch->name)) {
    // A later hop in a chain: our datagrams go to it straight, at its configured host.
    if (const auto* hop = std::get_if<config::Hop>(&up->kind)) {
      auto t = TargetAddress::from_host(hop->host, hop->port);
      if (t.ip) relay_ip = unmap_v4(*t.ip);
      else relay_host = t.domain;
    }
  }
  if (!relay_host.empty()) {
    auto res = co_await a->ctx.worker.resolver.resolve(relay_host, &action.snapshot->config->dns);
    if (a->closed) co_return;
    if (res.ec) {
      fail("cannot resolve the hop's UDP relay " + relay_host);
      co_return;
    }
    relay_ip = unmap_v4(res.addresses.front());
  }
  if (relay_ip.is_unspecified()) {
    fail("no UDP relay address");
    co_return;
  }
  udp::endpoint relay_ep(relay_ip, r.bound.port);
  error_code ec;
  ch->socket.open(relay_ep.protocol(), ec);
  if (!ec) ch->socket.connect(relay_ep, ec);
  if (ec) {
    fail("UDP relay " + TargetAddress::from_ip(relay_ip, r.bound.port).to_string() + ": " + ec.message());
    co_return;
  }
  ch->control = std::move(r.socket);
  spdlog::debug("conn {} udp: associated with upstream {}, relay {}", a->conn.id, ch->name,
                TargetAddress::from_ip(relay_ip, r.bound.port).to_string());
  spawn(a, channel_replies(a, ch), "upstream replies");
  spawn(a, channel_control(a, ch, key), "upstream control");
  // Flush what queued up meanwhile; new datagrams queue behind until it is empty, then go straight.
  while (!ch->queue.empty()) {
    auto d = std::move(ch->queue.front());
    ch->queue.pop_front();
    co_await send_channel(a, ch, d.wrapped, d.payload);
    if (a->closed) co_return;
  }
  if (ch->socket.is_open()) ch->state = Channel::State::ready;
}

/// Sends a datagram whose destination is settled (an IP, or a name an upstream resolves).
awaitable<void> deliver(AssociationPtr a, const Action& act, const TargetAddress& target, std::span<const std::uint8_t> payload,
                        Bytes& scratch) {
  if (a->closed) co_return;
  if (act.kind == Action::Kind::direct) {
    co_await send_direct(a, target, payload);
    co_return;
  }
  auto it = a->channels.find(act.key);
  std::shared_ptr<Channel> ch;
  bool fresh = it == a->channels.end() || (it->second->state == Channel::State::failed && Clock::now() >= it->second->retry_at);
  if (fresh) {
    ch = std::make_shared<Channel>(a->ex);
    a->channels[act.key] = ch;
  } else {
    ch = it->second;
  }
  if (ch->state == Channel::State::failed) {
    count_drop(Drop::upstream);
    co_return;
  }
  scratch.clear();
  s5::encode_udp_header(scratch, target);
  scratch.insert(scratch.end(), payload.begin(), payload.end());
  if (ch->state == Channel::State::connecting) {
    if (ch->queue.size() >= max_queued_per_channel) count_drop(Drop::upstream);
    else ch->queue.push_back({scratch, payload.size()});
    // Queued before the dial starts (co_spawn may run it inline up to its first wait).
    if (fresh) spawn(a, open_channel(a, ch, act.key, act), "upstream association");
    co_return;
  }
  co_await send_channel(a, ch, scratch, payload.size());
}

/// A fresh cache entry for `name`, or nullptr.
NameEntry* cached(Association& a, const std::string& name) {
  auto it = a.names.find(name);
  if (it == a.names.end()) return nullptr;
  if (!it->second.in_flight && Clock::now() >= it->second.expires) {
    a.names.erase(it);
    return nullptr;
  }
  return &it->second;
}

/// Makes room for one more name; false when every entry is a lookup in flight.
bool make_room(Association& a) {
  if (a.names.size() < max_cached_names) return true;
  auto now = Clock::now();
  std::erase_if(a.names, [&](const auto& kv) { return !kv.second.in_flight && now >= kv.second.expires; });
  if (a.names.size() < max_cached_names) return true;
  for (auto it = a.names.begin(); it != a.names.end(); ++it)
    if (!it->second.in_flight) {
      a.names.erase(it);
      return true;
    }
  return false;
}

asio::ip::address pick(const std::vector<asio::ip::address>& addresses) { return unmap_v4(addresses.front()); }

awaitable<void> lookup(AssociationPtr a, std::string name) {
  auto snapshot = a->ctx.current(); // held across the wait: the DNS settings live in it
  auto res = co_await a->ctx.worker.resolver.resolve(name, &snapshot->config->dns);
  if (a->closed) co_return;
  auto it = a->names.find(name);
  if (it == a->names.end()) co_return;
  auto& e = it->second;
  e.in_flight = false;
  if (res.ec) e.addresses.clear();
  else e.addresses = res.addresses;
  e.expires = Clock::now() + (res.ec ? to_clock(negative_ttl) : to_clock(name_ttl));
  if (res.ec) spdlog::debug("conn {} udp: cannot resolve {}: {}", a->conn.id, name, res.ec.message());
  auto addresses = e.addresses; // the entry may be evicted while we send
  auto queue = std::move(e.queue);
  e.queue.clear();
  Bytes scratch;
  for (auto& q : queue) {
    if (addresses.empty()) {
      count_drop(Drop::unresolved);
      continue;
    }
    co_await deliver(a, q.action, TargetAddress::from_ip(pick(addresses), q.port), q.payload, scratch);
    if (a->closed) co_return;
  }
}

void note_destination(Association& a, const TargetAddress& target, const routing::Decision& d) {
  if (target == a.last_destination) return;
  a.last_destination = target;
  std::lock_guard lock(a.conn.mutex);
  a.conn.target = target.to_string();
  a.conn.route = d.rule_name();
  a.conn.hops = d.via.display();
}

/// Routes one datagram from the client and sends it on (or queues it behind a lookup).
awaitable<void> dispatch(AssociationPtr a, TargetAddress target, std::span<const std::uint8_t> payload, Bytes& scratch) {
  auto snapshot = a->ctx.current();
  auto& request = a->request;
  request.target = target;
  auto verdict = routing::decide(*snapshot, request);
  if (verdict.needs_resolution()) {
    // A "resolve": true rule wants the name's addresses; rare, so it is looked up in line.
    std::vector<asio::ip::address> addresses;
    if (auto* e = cached(*a, target.domain); e && !e->in_flight) addresses = e->addresses;
    else {
      auto res = co_await a->ctx.worker.resolver.resolve(target.domain, &snapshot->config->dns);
      if (a->closed) co_return;
      addresses = res.addresses;
    }
    verdict = routing::decide(*snapshot, request, addresses, true);
  }
  note_destination(*a, target, verdict.decision);
  auto act = action_for(snapshot, verdict);
  if (act.kind == Action::Kind::drop) {
    count_drop(Drop::no_route);
    co_return;
  }
  if (target.is_domain() && (act.kind == Action::Kind::direct || act.resolve_locally)) {
    if (act.must_be_remote) {
      count_drop(Drop::no_route);
      co_return;
    }
    auto* e = cached(*a, target.domain);
    if (e && !e->in_flight) {
      if (e->addresses.empty()) {
        count_drop(Drop::unresolved);
        co_return;
      }
      target = TargetAddress::from_ip(pick(e->addresses), target.port);
    } else {
      bool start = !e;
      if (start) {
        if (!make_room(*a)) {
          count_drop(Drop::unresolved);
          co_return;
        }
        e = &a->names[target.domain];
        e->in_flight = true;
      }
      if (e->queue.size() >= max_queued_per_name) count_drop(Drop::unresolved);
      else e->queue.push_back({std::move(act), target.port, Bytes(payload.begin(), payload.end())});
      // Queue first: co_spawn may run the lookup inline up to its first wait, and an answer from
      // /etc/hosts or the resolver's cache comes without one.
      if (start) spawn(a, lookup(a, target.domain), "lookup");
      co_return;
    }
  }
  co_await deliver(a, act, target, payload, scratch);
}

/// Datagrams from the client: checked, unwrapped and dispatched one by one.
awaitable<void> client_loop(AssociationPtr a) {
  Bytes buf(max_header + a->max_datagram + 1);
  Bytes scratch;
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await a->relay.async_receive_from(asio::buffer(buf), from, use_nothrow);
    if (a->closed || ec == asio::error::operation_aborted || !a->relay.is_open()) co_return;
    if (ec) continue;
    // Only the client may use its relay: its address, and its port once known.
    if (unmap_v4(from.address()) != a->client_ip || (a->client_port != 0 && from.port() != a->client_port)) {
      count_drop(Drop::foreign);
      continue;
    }
    s5::UdpHeader h;
    auto hl = unwrap({buf.data(), n}, h, a->max_datagram);
    if (!hl) continue;
    // The first good datagram fixes the client's port: replies go there.
    a->client_port = from.port();
    a->client_ep = from;
    a->client_known = true;
    a->last_activity = Clock::now();
    co_await dispatch(a, std::move(h.target), {buf.data() + *hl, n - *hl}, scratch);
  }
}

/// Returns when the client closes (or breaks) its TCP control connection; bytes on it are ignored.
awaitable<void> watch_control(tcp::socket& control) {
  std::array<std::uint8_t, 256> chunk;
  for (;;) {
    auto [ec, n] = co_await control.async_read_some(asio::buffer(chunk), use_nothrow);
    (void)n;
    if (ec) co_return;
  }
}

/// Returns when no datagram went either way for `idle` (never when idle is zero).
awaitable<void> idle_watch(AssociationPtr a, Clock::duration idle) {
  asio::steady_timer timer(a->ex);
  for (;;) {
    auto deadline = idle > Clock::duration::zero() ? a->last_activity + idle : Clock::time_point::max();
    if (Clock::now() >= deadline) co_return;
    timer.expires_at(deadline);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    if (ec == asio::error::operation_aborted) co_return;
  }
}

/// Binds the relay socket on `address`, on a port from `range` (tried from a random offset) or an ephemeral one.
error_code bind_relay(udp::socket& s, const asio::ip::address& address, const std::optional<config::PortRange>& range) {
  error_code ec;
  s.open(address.is_v4() ? udp::v4() : udp::v6(), ec);
  if (ec) return ec;
  if (!range) {
    s.bind(udp::endpoint(address, 0), ec);
    return ec;
  }
  std::uint32_t count = std::uint32_t{range->last} - range->first + 1;
  static thread_local std::minstd_rand rng{std::random_device{}()};
  std::uint32_t start = static_cast<std::uint32_t>(rng() % count);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto port = static_cast<std::uint16_t>(range->first + (start + i) % count);
    s.bind(udp::endpoint(address, port), ec);
    if (!ec) return ec;
    if (ec != asio::error::address_in_use && ec != asio::error::access_denied) return ec;
  }
  return asio::error::address_in_use;
}

} // namespace

awaitable<std::string> serve_udp_associate(tcp::socket& control, SessionContext& ctx, observe::Connection& conn,
                                           const routing::Client& who, const TargetAddress& requested) {
  auto ex = co_await asio::this_coro::executor;
  auto snapshot = ctx.current();
  const auto& cfg = *snapshot->config;
  auto& counters = udp_counters();
  auto reply = [&](std::uint8_t rep, const TargetAddress& bound) -> awaitable<void> {
    Bytes out;
    s5::encode_reply(out, static_cast<s5::Reply>(rep), bound);
    auto [ec, n] = co_await asio::async_write(control, asio::buffer(out), use_nothrow);
    (void)ec;
    (void)n;
  };
  auto refuse = [&](ProxyError e) -> awaitable<void> {
    counters.associations_refused.fetch_add(1, relaxed);
    conn.set_error(e);
    co_await reply(socks5_reply_for(e), TargetAddress::from_ip(asio::ip::address_v4::any(), 0));
  };
  {
    std::lock_guard lock(conn.mutex);
    conn.user = who.user; // route, hops and target follow the datagrams (the latest destination)
  }

  error_code ec;
  const auto& peer = ctx.peer;
  auto local = control.local_endpoint(ec);
  if (ec) co_return "udp: control connection gone";
  // Refused (0x02) when no rule that may apply to the client carries UDP; otherwise each
  // datagram's own rule decides, and the ones that cannot carry it are dropped.
  if (!routing::udp_possible(*snapshot, who)) {
    co_await refuse(ProxyError::not_allowed);
    co_return "not allowed (no route for this client carries UDP)";
  }
  auto client_ip = unmap_v4(peer.address());
  if (!slots().acquire(client_ip, cfg.udp.max_associations, cfg.udp.max_associations_per_client)) {
    co_await refuse(ProxyError::over_limit);
    co_return "over limit (UDP associations)";
  }
  SlotGuard slot{client_ip};

  auto a = std::make_shared<Association>(ex, ctx, conn, who, cfg.udp.max_datagram);
  a->client_ip = client_ip;
  a->client_port = requested.port; // when the client said which port it sends from, only that one
  // The relay listens where the client reached us: an address the client can send to.
  auto relay_ip = unmap_v4(local.address());
  if (auto bec = bind_relay(a->relay, relay_ip, cfg.udp.port_range)) {
    spdlog::warn("conn {} udp: no relay port on {}: {}", conn.id, relay_ip.to_string(), bec.message());
    co_await refuse(ProxyError::general_failure);
    co_return "udp: no relay port (" + bec.message() + ")";
  }
  auto bound = a->relay.local_endpoint(ec);
  auto bound_target = TargetAddress::from_ip(unmap_v4(bound.address()), bound.port());
  counters.associations_total.fetch_add(1, relaxed);
  counters.associations_active.fetch_add(1, relaxed);
  conn.set("udp");
  spdlog::debug("conn {} udp: relay {} for client {}{}", conn.id, bound_target.to_string(), client_ip.to_string(),
                requested.port ? " port " + std::to_string(requested.port) : std::string());
  co_await reply(0, bound_target);

  using namespace asio::experimental::awaitable_operators;
  auto ended = co_await (watch_control(control) || client_loop(a) || idle_watch(a, to_clock(cfg.udp.idle_timeout)));
  a->close();
  counters.associations_active.fetch_sub(1, relaxed);
  std::string how = ended.index() == 0 ? "ok" : ended.index() == 2 ? "ok (udp idle timeout)" : "udp relay socket failed";
  co_return how + " (udp: " + std::to_string(a->sent) + " datagrams sent, " + std::to_string(a->received) + " received)";
}

} // namespace hopgate::frontend
