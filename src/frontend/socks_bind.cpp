#include "hopgate/frontend/socks_bind.hpp"

#include "hopgate/codec/socks4.hpp"
#include "hopgate/codec/socks5.hpp"
#include "hopgate/core/cidr.hpp"
#include "hopgate/core/error.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/frontend/route_request.hpp"
#include "hopgate/routing/router.hpp"
#include "hopgate/upstream/hop_reader.hpp"

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace hopgate::frontend {
namespace {

namespace s4 = codec::socks4;
namespace s5 = codec::socks5;
using Bytes = std::vector<std::uint8_t>;

/// While we wait for the peer, bytes the client sends are kept for the peer up to this much.
constexpr std::size_t max_early_bytes = 64 * 1024;

TargetAddress endpoint_target(const tcp::endpoint& ep) { return TargetAddress::from_ip(unmap_v4(ep.address()), ep.port()); }

bool unspecified(const TargetAddress& t) { return t.ip && t.ip->is_unspecified(); }

/// One reply in the client's SOCKS version. `rep` is a SOCKS5 code: 0 grants, anything else
/// is SOCKS4's one failure code. SOCKS4 replies carry IPv4 only: an IPv6 or domain address is
/// sent as 0.0.0.0, which tells a SOCKS4 client to use the proxy's own address (SOCKS4 spec).
awaitable<void> send_reply(tcp::socket& s, SocksVersion v, std::uint8_t rep, const TargetAddress& bound) {
  Bytes out;
  if (v == SocksVersion::v5) {
    TargetAddress b = bound;
    if (b.ip) b.ip = unmap_v4(*b.ip);
    if (b.is_domain() && b.domain.empty()) b = TargetAddress::from_ip(asio::ip::address_v4::any(), b.port);
    s5::encode_reply(out, static_cast<s5::Reply>(rep), b);
  } else {
    asio::ip::address_v4 ip = asio::ip::address_v4::any();
    if (bound.ip && unmap_v4(*bound.ip).is_v4()) ip = unmap_v4(*bound.ip).to_v4();
    s4::encode_reply(out, rep == 0 ? s4::Reply::granted : s4::Reply::rejected, ip, bound.port);
  }
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(out), use_nothrow);
  (void)ec;
  (void)n;
}

awaitable<void> send_failure(tcp::socket& s, SocksVersion v, std::uint8_t rep) {
  co_await send_reply(s, v, rep, TargetAddress::from_ip(asio::ip::address_v4::any(), 0));
}

/// Runs while we wait for the peer: keeps what the client sends (for the peer) and returns
/// when the client goes away, so that an abandoned BIND does not hold its port until the timeout.
awaitable<void> watch_client(tcp::socket& client, Bytes& pending) {
  std::array<std::uint8_t, 4096> chunk;
  while (pending.size() < max_early_bytes) {
    auto [ec, n] = co_await client.async_read_some(asio::buffer(chunk), use_nothrow);
    if (ec) co_return;
    pending.insert(pending.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
  }
  // Full: stop reading (back-pressure) and leave the end to the other branch or the deadline.
  asio::steady_timer forever(co_await asio::this_coro::executor, Clock::time_point::max());
  co_await forever.async_wait(use_nothrow);
}

/// BIND on a direct route: hopgate listens itself.
awaitable<std::string> bind_direct(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                   const config::Config& cfg, const TargetAddress& peer, SocksVersion version,
                                   Bytes& client_pending, std::optional<TunnelPlan>& tunnel) {
  auto ex = co_await asio::this_coro::executor;
  // The peers we let in: the request's address, or all of its name's addresses, or anyone.
  std::vector<asio::ip::address> expected;
  if (peer.is_domain()) {
    auto res = co_await ctx.worker.resolver.resolve(peer.domain, &cfg.dns);
    if (res.ec) {
      co_await send_failure(client, version, socks5_reply_for(ProxyError::name_not_resolved));
      conn.set_error(ProxyError::name_not_resolved);
      co_return "cannot resolve expected peer " + peer.domain;
    }
    for (auto& a : res.addresses) expected.push_back(unmap_v4(a));
  } else if (!peer.ip->is_unspecified()) {
    expected.push_back(unmap_v4(*peer.ip));
  }

  // Listen on the address of the interface that carries the client's connection: the client
  // reached us there, so that is the address it can tell its peer.
  error_code ec;
  auto local = client.local_endpoint(ec);
  tcp::acceptor acceptor(ex);
  tcp::endpoint listen_at(unmap_v4(local.address()), 0);
  if (!ec) acceptor.open(listen_at.protocol(), ec);
  if (!ec) acceptor.bind(listen_at, ec);
  if (!ec) acceptor.listen(1, ec);
  if (ec) {
    co_await send_failure(client, version, socks5_reply_for(ProxyError::general_failure));
    conn.set_error(ProxyError::general_failure);
    co_return "bind: cannot listen: " + ec.message();
  }
  auto bound = acceptor.local_endpoint(ec);
  spdlog::debug("conn {} bind: listening on {}", conn.id, endpoint_target(bound).to_string());
  conn.set("bind-wait");
  co_await send_reply(client, version, 0, endpoint_target(bound));

  tcp::socket peer_socket(ex);
  auto accept_expected = [&]() -> awaitable<error_code> {
    for (;;) {
      auto [aec, s] = co_await acceptor.async_accept(use_nothrow);
      if (aec == asio::error::connection_aborted) continue;
      if (aec) co_return aec;
      error_code rec;
      auto from = s.remote_endpoint(rec);
      if (rec) continue;
      auto addr = unmap_v4(from.address());
      if (expected.empty() || std::find(expected.begin(), expected.end(), addr) != expected.end()) {
        peer_socket = std::move(s);
        co_return error_code{};
      }
      // Someone else found the port first: turn it away and keep waiting for the right peer.
      spdlog::debug("conn {} bind: refused a connection from {} (expecting {})", conn.id, endpoint_target(from).to_string(),
                    peer.host());
    }
  };
  using namespace asio::experimental::awaitable_operators;
  auto waited = co_await with_timeout(accept_expected() || watch_client(client, client_pending), cfg.timeouts.bind);
  acceptor.close(ec);
  if (!waited) {
    co_await send_failure(client, version, socks5_reply_for(ProxyError::timeout));
    conn.set_error(ProxyError::timeout);
    co_return "bind: no connection within the bind timeout";
  }
  if (waited->index() == 1) co_return "bind: client closed while waiting";
  if (auto aec = std::get<0>(*waited)) {
    co_await send_failure(client, version, socks5_reply_for(ProxyError::general_failure));
    conn.set_error(ProxyError::general_failure);
    co_return "bind: accept failed: " + aec.message();
  }
  auto from = peer_socket.remote_endpoint(ec);
  peer_socket.set_option(tcp::no_delay(true), ec);
  spdlog::debug("conn {} bind: peer {} connected", conn.id, endpoint_target(from).to_string());
  {
    std::lock_guard lock(conn.mutex);
    conn.state = "open";
    conn.target = endpoint_target(from).to_string();
  }
  co_await send_reply(client, version, 0, endpoint_target(from));
  tunnel.emplace(TunnelPlan{std::move(peer_socket), std::move(client_pending), {}, {}, to_clock(cfg.timeouts.idle), {}});
  co_return "ok";
}

/// BIND through an upstream whose last hop speaks SOCKS: that hop listens, we pass on its replies.
awaitable<std::string> bind_upstream(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                     const std::shared_ptr<const routing::Snapshot>& snapshot, const routing::Verdict& verdict,
                                     const routing::Request& request, SocksVersion version, Bytes& client_pending,
                                     std::optional<TunnelPlan>& tunnel) {
  const auto& cfg = *snapshot->config;
  auto dial_req = dial_request(snapshot, verdict, request);
  auto dial = co_await upstream::dial(dial_req, ctx.worker.resolver);
  if (dial.ec) {
    spdlog::debug("conn {} bind: {}", conn.id, dial.error_message());
    co_await send_failure(client, version, socks5_reply_for(classify(dial.ec)));
    conn.set_error(classify(dial.ec));
    co_return dial.error_message();
  }
  const config::Hop* last = nullptr;
  if (!dial.hops.empty())
    if (const auto* up = cfg.find_upstream(dial.hops.back())) last = std::get_if<config::Hop>(&up->kind);
  if (!last) {
    co_await send_failure(client, version, socks5_reply_for(ProxyError::general_failure));
    conn.set_error(ProxyError::general_failure);
    co_return "bind: no last hop";
  }
  // A hop that answers 0.0.0.0 means "my own address" (SOCKS4 spec; common for SOCKS5 too).
  // We know it when the hop is the one we are connected to.
  auto fix_unspecified = [&](TargetAddress t) {
    error_code ec;
    auto remote = dial.socket.remote_endpoint(ec);
    if (unspecified(t) && dial.hops.size() == 1 && !ec) t.ip = unmap_v4(remote.address());
    return t;
  };
  auto first = fix_unspecified(dial.bound);
  spdlog::debug("conn {} bind: upstream {} listens on {}", conn.id, dial.hops.back(), first.to_string());
  conn.set("bind-wait");
  co_await send_reply(client, version, 0, first);

  // The hop's second reply arrives when its peer connects (or it gives up).
  bool v4_hop = last->scheme == config::Hop::Scheme::socks4 || last->scheme == config::Hop::Scheme::socks4a;
  Bytes buf = std::move(dial.pending);
  std::uint8_t rep = 0;
  TargetAddress second;
  auto read_second = [&]() -> awaitable<std::pair<error_code, std::size_t>> {
    error_code ec;
    std::size_t n = 0;
    if (v4_hop) {
      s4::ReplyMessage m;
      n = co_await upstream::read_hop_message(dial.socket, buf, [&](auto in, error_code& e) { return s4::decode_reply(in, m, e); }, ec, 1024);
      rep = m.reply == static_cast<std::uint8_t>(s4::Reply::granted) ? 0 : socks5_reply_for(ProxyError::upstream_rejected);
      second = TargetAddress::from_ip(m.ip, m.port);
    } else {
      s5::ReplyMessage m;
      n = co_await upstream::read_hop_message(dial.socket, buf, [&](auto in, error_code& e) { return s5::decode_reply(in, m, e); }, ec, 1024);
      rep = m.reply;
      second = m.bound;
    }
    co_return std::pair{ec, n};
  };
  using namespace asio::experimental::awaitable_operators;
  auto waited = co_await with_timeout(read_second() || watch_client(client, client_pending), cfg.timeouts.bind);
  if (!waited) {
    co_await send_failure(client, version, socks5_reply_for(ProxyError::timeout));
    conn.set_error(ProxyError::timeout);
    co_return "bind: upstream " + dial.hops.back() + " reported no connection within the bind timeout";
  }
  if (waited->index() == 1) co_return "bind: client closed while waiting";
  auto [ec, n] = std::get<0>(*waited);
  if (ec) {
    co_await send_failure(client, version, socks5_reply_for(classify(ec)));
    conn.set_error(classify(ec));
    co_return "bind: upstream " + dial.hops.back() + ": " + error_code(classify(ec)).message();
  }
  if (rep != 0) {
    co_await send_failure(client, version, rep);
    conn.set_error(from_socks5_reply(rep));
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", rep);
    co_return "bind: upstream " + dial.hops.back() + " second reply " + hex;
  }
  buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  {
    std::lock_guard lock(conn.mutex);
    conn.state = "open";
    conn.target = second.to_string();
  }
  co_await send_reply(client, version, 0, second);
  tunnel.emplace(TunnelPlan{std::move(dial.socket), std::move(client_pending), std::move(buf), std::move(dial.holds),
                            to_clock(cfg.timeouts.idle), {}});
  co_return "ok";
}

} // namespace

awaitable<std::string> serve_bind(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                  const routing::Request& request, SocksVersion version,
                                  std::vector<std::uint8_t>& client_pending, std::optional<TunnelPlan>& tunnel) {
  auto snapshot = ctx.current();
  const auto& cfg = *snapshot->config;
  const auto& peer = request.target;
  // The request's DST names the expected peer: it is routed like a CONNECT to that peer.
  auto verdict = routing::decide(*snapshot, request);
  if (verdict.needs_resolution()) verdict = co_await routing::resolve_and_decide(*snapshot, request, ctx.worker.resolver);
  const auto& via = verdict.decision.via;
  {
    std::lock_guard lock(conn.mutex);
    conn.route = verdict.rule_name();
    conn.hops = via.display();
    conn.user = request.client.user;
  }
  spdlog::debug("conn {} bind {} route {} -> {}", conn.id, peer.to_string(), verdict.rule_name(), via.display());
  auto fail = [&](ProxyError e) -> awaitable<void> {
    co_await send_failure(client, version, socks5_reply_for(e));
    conn.set_error(e);
  };
  using R = routing::Verdict::Refusal;
  switch (verdict.refusal) {
  case R::none: break;
  case R::blocked: co_await fail(ProxyError::blocked); co_return "blocked";
  case R::port_not_allowed:
    co_await fail(ProxyError::not_allowed);
    co_return "not allowed (port " + std::to_string(peer.port) + ")";
  case R::command_not_supported:
    // Only a SOCKS hop can listen for us; an HTTP hop (CONNECT) cannot.
    co_await fail(ProxyError::command_not_supported);
    co_return "command not supported (BIND needs a SOCKS last hop)";
  }
  if (via.kind == config::Via::Kind::direct) {
    if (verdict.target_dns == routing::TargetDns::refused) {
      // Direct BIND would resolve the expected peer's name here: fail closed, like a CONNECT.
      co_await fail(ProxyError::remote_dns_required);
      co_return "remote DNS required (BIND would resolve " + peer.domain + " locally)";
    }
    co_return co_await bind_direct(client, ctx, conn, cfg, peer, version, client_pending, tunnel);
  }
  conn.set("connecting");
  co_return co_await bind_upstream(client, ctx, conn, snapshot, verdict, request, version, client_pending, tunnel);
}

} // namespace hopgate::frontend
