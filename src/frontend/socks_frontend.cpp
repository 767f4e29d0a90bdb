#include "hopgate/frontend/socks_frontend.hpp"

#include "hopgate/codec/socks4.hpp"
#include "hopgate/codec/socks5.hpp"
#include "hopgate/core/error.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/core/secret.hpp"
#include "hopgate/frontend/route_request.hpp"
#include "hopgate/frontend/socks_bind.hpp"
#include "hopgate/frontend/udp_associate.hpp"
#include "hopgate/relay/relay.hpp"

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

namespace hopgate::frontend {
namespace {

namespace s4 = codec::socks4;
namespace s5 = codec::socks5;
using Bytes = std::vector<std::uint8_t>;

/// Reads until `decode` accepts a whole message; returns its length, or 0 with ec set (codec
/// error, or the socket's). Bytes past the message stay in `buf` for the next step.
template <class Decode> awaitable<std::size_t> read_message(tcp::socket& s, Bytes& buf, Decode decode, error_code& ec) {
  for (;;) {
    ec = codec::CodecError::need_more;
    std::size_t n = buf.empty() ? 0 : decode(std::span<const std::uint8_t>(buf), ec);
    if (!ec) co_return n;
    if (ec != codec::CodecError::need_more) co_return 0;
    if (buf.size() > 2048) { // no valid SOCKS handshake message is this long
      ec = codec::CodecError::field_too_long;
      co_return 0;
    }
    std::array<std::uint8_t, 512> chunk;
    auto [rec, got] = co_await s.async_read_some(asio::buffer(chunk), use_nothrow);
    if (rec) {
      ec = rec;
      co_return 0;
    }
    buf.insert(buf.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
  }
}

void consume(Bytes& buf, std::size_t n) { buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n)); }

awaitable<void> send(tcp::socket& s, const Bytes& out) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(out), use_nothrow);
  (void)ec;
  (void)n;
}

TargetAddress unspecified_v4() { return TargetAddress::from_ip(asio::ip::address_v4::any(), 0); }

/// The SOCKS5 reply for a failure, with a zero bound address.
awaitable<void> send_socks5_failure(tcp::socket& s, s5::Reply rep) {
  Bytes out;
  s5::encode_reply(out, rep, unspecified_v4());
  co_await send(s, out);
}

awaitable<void> send_socks4_reply(tcp::socket& s, s4::Reply reply, const TargetAddress& bound) {
  Bytes out;
  auto ip = bound.is_ipv4() ? bound.ip->to_v4() : asio::ip::address_v4::any();
  s4::encode_reply(out, reply, ip, bound.is_ipv4() ? bound.port : 0);
  co_await send(s, out);
}


/// After a successful reply: hand the tunnel to the caller, which relays it once these frames are gone.
std::string plan_tunnel(RoutedConnection& routed, const Bytes& client_pending, std::optional<TunnelPlan>& tunnel) {
  tunnel.emplace(TunnelPlan{std::move(routed.dial.socket), Bytes(client_pending.begin(), client_pending.end()),
                            std::move(routed.dial.pending), std::move(routed.dial.holds),
                            to_clock(routed.snapshot->config->timeouts.idle), {}});
  return "ok";
}

awaitable<std::string> serve_socks4(tcp::socket& client, SessionContext& ctx, observe::Connection& conn, Bytes& buf,
                                    config::AuthMode auth, std::optional<TunnelPlan>& tunnel) {
  s4::Request req;
  error_code ec;
  auto hs = co_await with_timeout(
      read_message(client, buf, [&](auto in, error_code& e) { return s4::decode_request(in, req, e); }, ec),
      ctx.current()->config->timeouts.handshake);
  if (!hs) co_return "handshake timeout";
  if (ec) {
    if (ec.category() == codec::codec_error_category()) co_await send_socks4_reply(client, s4::Reply::rejected, unspecified_v4());
    ctx.shared.stats.on_handshake_error(config::Protocol::socks, "socks4 " + ec.message());
    co_return "bad request: " + ec.message();
  }
  consume(buf, *hs);
  {
    std::lock_guard lock(conn.mutex);
    conn.target = req.target.to_string();
  }
  // SOCKS4 carries no password: a listener that requires one refuses it.
  if (auth == config::AuthMode::password) {
    co_await send_socks4_reply(client, s4::Reply::rejected, unspecified_v4());
    co_return "not allowed (SOCKS4 has no password)";
  }
  routing::Client who{ctx.peer.address(), {}, {}, config::Protocol::socks, ctx.listener};
  // Named, not a temporary in the co_await: GCC 12 freed such a temporary twice (docs/architecture.md).
  routing::Request request{req.target, std::move(who), routing::Command::connect};
  if (req.command == static_cast<std::uint8_t>(s4::Command::bind)) {
    request.command = routing::Command::bind;
    co_return co_await serve_bind(client, ctx, conn, request, SocksVersion::v4, buf, tunnel);
  }
  if (req.command != static_cast<std::uint8_t>(s4::Command::connect)) {
    co_await send_socks4_reply(client, s4::Reply::rejected, unspecified_v4());
    co_return "command not supported";
  }
  auto routed = co_await route_and_dial(ctx, request, conn);
  if (routed.dial.ec) {
    spdlog::debug("conn {} {}", conn.id, routed.dial.error_message());
    co_await send_socks4_reply(client, s4::Reply::rejected, unspecified_v4());
    conn.set_error(classify(routed.dial.ec));
    co_return routed.dial.error_message();
  }
  co_await send_socks4_reply(client, s4::Reply::granted, routed.dial.bound);
  co_return plan_tunnel(routed, buf, tunnel);
}

awaitable<std::string> serve_socks5(tcp::socket& client, SessionContext& ctx, observe::Connection& conn, Bytes& buf,
                                    config::AuthMode auth, std::optional<TunnelPlan>& tunnel) {
  auto snapshot = ctx.current();
  const auto& cfg = *snapshot->config;
  routing::Client who{ctx.peer.address(), {}, {}, config::Protocol::socks, ctx.listener};

  // Greeting, method selection and authentication share one handshake deadline.
  auto handshake = [&]() -> awaitable<std::string> {
    error_code ec;
    s5::Greeting greeting;
    auto n = co_await read_message(client, buf, [&](auto in, error_code& e) { return s5::decode_greeting(in, greeting, e); }, ec);
    if (ec) {
      if (ec == codec::CodecError::no_methods) {
        Bytes out;
        s5::encode_method_selection(out, s5::Method::no_acceptable);
        co_await send(client, out);
      }
      co_return "bad greeting: " + ec.message();
    }
    consume(buf, n);
    auto offered = [&](s5::Method m) {
      for (auto x : greeting.methods)
        if (x == static_cast<std::uint8_t>(m)) return true;
      return false;
    };
    s5::Method method = s5::Method::no_acceptable;
    if (auth == config::AuthMode::none && offered(s5::Method::no_auth)) method = s5::Method::no_auth;
    else if (auth != config::AuthMode::none && offered(s5::Method::user_pass)) method = s5::Method::user_pass;
    else if (auth == config::AuthMode::optional && offered(s5::Method::no_auth)) method = s5::Method::no_auth;
    Bytes out;
    s5::encode_method_selection(out, method);
    co_await send(client, out);
    if (method == s5::Method::no_acceptable) co_return "no acceptable method";
    if (method == s5::Method::user_pass) {
      s5::UserPassRequest up;
      n = co_await read_message(client, buf, [&](auto in, error_code& e) { return s5::decode_userpass_request(in, up, e); }, ec);
      if (ec) {
        if (ec.category() == codec::codec_error_category()) {
          out.clear();
          s5::encode_userpass_reply(out, s5::userpass_failure);
          co_await send(client, out);
        }
        co_return "bad auth request: " + ec.message();
      }
      consume(buf, n);
      const auto* user = cfg.find_user(up.username);
      // An unknown user costs the same comparison as a wrong password (core/secret.hpp).
      bool ok = secret_equals(up.password, user ? std::string_view(user->password) : no_such_user_secret) && user != nullptr;
      out.clear();
      s5::encode_userpass_reply(out, ok ? s5::userpass_success : s5::userpass_failure);
      co_await send(client, out);
      if (!ok) co_return "authentication failed for user \"" + up.username + "\"";
      who.user = up.username;
      who.password = up.password;
    }
    co_return std::string{};
  };
  auto hs = co_await with_timeout(handshake(), cfg.timeouts.handshake);
  if (!hs) co_return "handshake timeout";
  if (!hs->empty()) {
    ctx.shared.stats.on_handshake_error(config::Protocol::socks, hs->substr(0, hs->find(':')));
    co_return *hs;
  }

  s5::Request req;
  error_code ec;
  auto rn = co_await with_timeout(
      read_message(client, buf, [&](auto in, error_code& e) { return s5::decode_request(in, req, e); }, ec),
      cfg.timeouts.handshake);
  if (!rn) co_return "handshake timeout";
  if (ec) {
    if (ec == codec::CodecError::bad_address_type) co_await send_socks5_failure(client, s5::Reply::address_type_not_supported);
    else if (ec.category() == codec::codec_error_category()) co_await send_socks5_failure(client, s5::Reply::general_failure);
    ctx.shared.stats.on_handshake_error(config::Protocol::socks, "socks5 " + ec.message());
    co_return "bad request: " + ec.message();
  }
  consume(buf, *rn);
  {
    std::lock_guard lock(conn.mutex);
    conn.target = req.target.to_string();
    conn.user = who.user;
  }
  // Named, not a temporary in the co_await: GCC 12 freed such a temporary twice (docs/architecture.md).
  routing::Request request{req.target, std::move(who), routing::Command::connect};
  if (req.command == static_cast<std::uint8_t>(s5::Command::bind)) {
    request.command = routing::Command::bind;
    co_return co_await serve_bind(client, ctx, conn, request, SocksVersion::v5, buf, tunnel);
  }
  if (req.command == static_cast<std::uint8_t>(s5::Command::udp_associate))
    co_return co_await serve_udp_associate(client, ctx, conn, request.client, req.target);
  if (req.command != static_cast<std::uint8_t>(s5::Command::connect)) {
    co_await send_socks5_failure(client, s5::Reply::command_not_supported);
    co_return "command not supported";
  }
  auto routed = co_await route_and_dial(ctx, request, conn);
  if (routed.dial.ec) {
    spdlog::debug("conn {} {}", conn.id, routed.dial.error_message());
    co_await send_socks5_failure(client, static_cast<s5::Reply>(socks5_reply_for(classify(routed.dial.ec))));
    conn.set_error(classify(routed.dial.ec));
    co_return routed.dial.error_message();
  }
  Bytes out;
  s5::encode_reply(out, s5::Reply::succeeded, routed.dial.bound);
  co_await send(client, out);
  co_return plan_tunnel(routed, buf, tunnel);
}

} // namespace

awaitable<std::string> serve_socks(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                   std::vector<std::uint8_t> buffered, config::AuthMode auth,
                                   std::optional<TunnelPlan>& tunnel) {
  if (buffered.empty()) co_return "closed before greeting";
  if (buffered[0] == s4::version) co_return co_await serve_socks4(client, ctx, conn, buffered, auth, tunnel);
  if (buffered[0] == s5::version) co_return co_await serve_socks5(client, ctx, conn, buffered, auth, tunnel);
  // Neither version: SOCKS5 servers answer "no acceptable method" (05 FF) to an unknown greeting.
  Bytes out;
  s5::encode_method_selection(out, s5::Method::no_acceptable);
  co_await send(client, out);
  ctx.shared.stats.on_handshake_error(config::Protocol::socks, "bad version");
  co_return "bad version";
}

} // namespace hopgate::frontend
