// The HTTP proxy front end. One coroutine serves one client connection, request after request:
// CONNECT becomes a tunnel (the relay), anything else with an absolute URI is forwarded over a
// pooled upstream connection, with the request body streamed up while the response streams
// down (http_exchange.cpp). Beast's parsers are driven by hand (put()) over reads that each
// carry a deadline (http_io.hpp), so every wait can be cancelled and every phase has its own
// timeout. This file is the session loop: the wait for the next request, its head, CONNECT,
// authentication and the proxy's own replies.
#include "hopgate/frontend/http_frontend.hpp"
#include "hopgate/frontend/http_exchange.hpp"
#include "hopgate/frontend/http_io.hpp"

#include "hopgate/codec/http_rewrite.hpp"
#include "hopgate/codec/http_target.hpp"
#include "hopgate/core/error.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/core/secret.hpp"
#include "hopgate/frontend/route_request.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <memory>

namespace hopgate::frontend {
namespace {

namespace bhttp = boost::beast::http;
namespace hc = codec::http;
using namespace http_io;

constexpr auto drain_check = std::chrono::milliseconds(500); ///< how often an idle keep-alive looks at draining

class HttpSession {
public:
  HttpSession(tcp::socket& client, SessionContext& ctx, observe::Connection& conn, config::AuthMode auth)
      : client_(client, ctx, conn), auth_(auth) {}

  awaitable<std::string> run(std::vector<std::uint8_t> buffered) {
    auto space = client_.in.prepare(buffered.size());
    client_.in.commit(asio::buffer_copy(space, asio::buffer(buffered)));
    for (bool first = true;; first = false) {
      auto snapshot = client_.ctx.current();
      const auto& cfg = *snapshot->config;
      client_.idle = to_clock(cfg.timeouts.idle); // read once per request, used by every read and write
      if (!first) {
        client_.conn.set("idle");
        if (client_.in.size() == 0) {
          bool more = co_await wait_for_next_request(to_clock(cfg.timeouts.http_keepalive));
          if (!more) co_return summary();
        }
      }
      client_.conn.set("request");
      // The last request's parsers are gone: their fields' memory is taken back here.
      auto hp = make_parser<RequestParser<bhttp::empty_body>>(client_.field_arena.fresh());
      hp.header_limit(static_cast<std::uint32_t>(
          std::min<std::size_t>(cfg.http.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
      hp.body_limit(boost::none); // bodies are streamed, never held whole: no size limit needed
      error_code ec;
      auto hr = co_await read_head(client_.socket, client_.in, hp, to_clock(cfg.timeouts.http_request), ec);
      switch (hr) {
      case HeadResult::ok: break;
      case HeadResult::closed: co_return requests_ ? summary() : std::string("closed before request");
      case HeadResult::failed: co_return requests_ ? summary() : "read failed: " + ec.message();
      case HeadResult::timeout:
        if (client_.in.size() > 0 || hp.got_some()) {
          co_await reply_and_close(408, "request head not received in time", false);
          co_return "request timeout";
        }
        co_return requests_ ? summary() : std::string("request timeout");
      case HeadResult::too_large:
        client_.ctx.shared.stats.on_handshake_error(config::Protocol::http, "header too large");
        co_await reply_and_close(431, "request header section over " + std::to_string(cfg.http.max_header_bytes) + " bytes",
                                 false);
        co_return "header too large";
      case HeadResult::bad:
        client_.ctx.shared.stats.on_handshake_error(config::Protocol::http, "bad request");
        co_await reply_and_close(400, framing_text(ec), false);
        co_return "bad request: " + ec.message();
      }
      ++requests_;
      bool keep = co_await handle(hp, snapshot);
      if (!keep) co_return summary();
    }
  }

private:
  std::string summary() const {
    if (!client_.result.empty() && requests_ <= 1) return client_.result;
    return (client_.result.empty() ? std::string("ok") : client_.result) + " (" + std::to_string(requests_) + " requests)";
  }

  /// Beast's framing errors read better in the proxy's words.
  static std::string framing_text(const error_code& ec) {
    if (ec == bhttp::error::bad_transfer_encoding) return "bad or conflicting Transfer-Encoding";
    if (ec == bhttp::error::bad_content_length) return "bad Content-Length or Content-Length with Transfer-Encoding";
    if (ec == bhttp::error::multiple_content_length) return hc::make_error_code(hc::HttpError::conflicting_content_length).message();
    return "malformed request (" + ec.message() + ")";
  }

  /// Waits for the next request's first byte, up to the keep-alive timeout; false when the
  /// client closed, the time passed, or the process is draining.
  awaitable<bool> wait_for_next_request(Clock::duration keepalive) {
    auto deadline = Clock::now() + keepalive;
    if (client_.ctx.shared.draining.load()) co_return false;
    {
      // A busy client's next request comes within moments: read it straight into the buffers
      // it had (no epoll re-arm, which a readiness wait costs, and no buffer freed and taken
      // again per request). A client quiet for longer gives them back and waits for readability.
      auto ec = co_await read_more(client_.socket, client_.in, std::min<Clock::duration>(keepalive, drain_check), head_read);
      if (!ec) co_return true;
      if (ec != asio::error::timed_out) co_return false;
    }
    client_.in.shrink_to_fit(); // an idle keep-alive connection holds no buffer
    upstream_.release_memory();
    client_.request_fields.release();
    client_.field_arena.release(); // after the fields that point into it
    for (;;) {
      if (client_.ctx.shared.draining.load()) co_return false;
      auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) co_return false;
      auto [ec] = co_await with_deadline(client_.socket.async_wait(tcp::socket::wait_read, use_nothrow), client_.socket,
                                         std::min<Clock::duration>(left, drain_check));
      if (ec != asio::error::timed_out) co_return !ec;
    }
  }

  /// Sends an error reply that ends the connection, then lingers (see linger()).
  /// Text and fields by value: a coroutine's reference parameters would outlive the callers'
  /// temporaries (ec.message(), auth_challenge()) only by the grace of the full expression.
  awaitable<void> reply_and_close(unsigned status, std::string text, bool http10, hc::Fields extra = {}) {
    bool sent = co_await client_.send(hc::proxy_reply(status, text, true, http10, extra));
    if (sent) co_await linger();
  }

  /// Ends the client connection without losing what we sent: stop sending, and read (and drop)
  /// what the client still sends for a moment, so that its unread bytes do not turn our last
  /// response into a reset before it reads it.
  awaitable<void> linger() {
    error_code ignored;
    client_.socket.shutdown(tcp::socket::shutdown_send, ignored);
    auto deadline = Clock::now() + std::chrono::seconds(2);
    std::size_t drained = 0;
    while (drained < (4u << 20)) {
      client_.in.clear();
      auto ec = co_await read_more(client_.socket, client_.in, deadline - Clock::now(), head_read);
      if (ec) break;
      drained += client_.in.size();
    }
    client_.in.clear();
  }

  /// Sends an error reply; keeps the connection when `keep` (the request had no body to skip).
  awaitable<bool> reply(unsigned status, std::string text, bool keep, bool http10, hc::Fields extra = {}) {
    keep = keep && !client_.ctx.shared.draining.load();
    if (!keep) {
      co_await reply_and_close(status, std::move(text), http10, std::move(extra));
      co_return false;
    }
    co_return co_await client_.send(hc::proxy_reply(status, text, false, http10, extra));
  }

  /// Checks Proxy-Authorization when the listener wants a password. nullopt: reply 407.
  std::optional<routing::Client> identify(const hc::Fields& fields, const config::Config& cfg) {
    routing::Client who{client_.peer, {}, {}, config::Protocol::http, client_.ctx.listener};
    if (auth_ != config::AuthMode::password) return who;
    const auto* f = hc::find_field(fields, "Proxy-Authorization");
    if (!f) return std::nullopt;
    error_code ec;
    auto creds = hc::decode_basic(f->value, ec);
    if (!creds) return std::nullopt;
    const auto* user = cfg.find_user(creds->username);
    // An unknown user costs the same comparison as a wrong password (core/secret.hpp).
    bool ok = secret_equals(creds->password, user ? std::string_view(user->password) : no_such_user_secret);
    if (!user || !ok) {
      spdlog::debug("conn {} proxy authentication failed for user \"{}\"", client_.conn.id, creds->username);
      return std::nullopt;
    }
    who.user = creds->username;
    who.password = std::move(creds->password);
    return who;
  }

  static hc::Fields auth_challenge() { return {{"Proxy-Authenticate", "Basic realm=\"hopgate\""}}; }

  /// One request whose head is in `hp`. Returns whether the client connection goes on.
  awaitable<bool> handle(RequestParser<bhttp::empty_body>& hp, std::shared_ptr<const routing::Snapshot> snapshot) {
    const auto& cfg = *snapshot->config;
    auto& req = hp.get();
    bool http10 = req.version() == 10;
    std::string method(req.method_string());
    std::string target_text(req.target());
    if (req.version() != 10 && req.version() != 11) {
      co_await reply_and_close(505, "only HTTP/1.0 and HTTP/1.1 are served", false);
      client_.result = "bad version";
      co_return false;
    }
    view_fields(req, client_.request_fields);
    const auto& fields = client_.request_fields.fields;
    error_code ec;
    auto framing = hc::check_framing(fields, true, ec);
    if (!framing) {
      client_.ctx.shared.stats.on_handshake_error(config::Protocol::http, "bad framing");
      co_await reply_and_close(400, ec.message(), http10);
      client_.result = "bad request: " + ec.message();
      co_return false;
    }
    bool has_body = !hp.is_done();
    bool client_keep = req.keep_alive() && !has_body;

    {
      // The connection's error (for stats) is the last request's: an earlier failure is history.
      client_.conn.set_error(ProxyError::ok);
    }
    if (req.method() == bhttp::verb::connect) co_return co_await handle_connect(target_text, fields, http10, cfg);

    auto target = hc::parse_absolute_target(target_text, ec);
    if (!target) {
      bool unsupported = ec == hc::HttpError::unsupported_scheme;
      if (!unsupported) client_.ctx.shared.stats.on_handshake_error(config::Protocol::http, "bad target");
      client_.result = "bad request: " + ec.message();
      co_return co_await reply(unsupported ? 501 : 400, ec.message(), client_keep, http10);
    }
    auto who = identify(fields, cfg);
    if (!who) {
      client_.ctx.shared.stats.on_handshake_error(config::Protocol::http, "auth failed");
      client_.result = "proxy authentication required";
      co_return co_await reply(407, "proxy authentication required", client_keep, http10, auth_challenge());
    }
    HttpExchange exchange(client_, upstream_, hp, std::move(method), *target, *framing, *who, snapshot);
    auto end = co_await exchange.run();
    switch (end.then) {
    case ExchangeEnd::Then::go_on: co_return true;
    case ExchangeEnd::Then::close: co_return false;
    case ExchangeEnd::Then::reply: co_return co_await reply(end.status, std::string(end.text), end.keep, http10);
    case ExchangeEnd::Then::reply_and_close: co_await reply_and_close(end.status, std::string(end.text), http10); break;
    case ExchangeEnd::Then::linger: co_await linger(); break;
    }
    co_return false;
  }

  awaitable<bool> handle_connect(const std::string& target_text, const hc::Fields& fields, bool http10,
                                 const config::Config& cfg) {
    error_code ec;
    auto target = hc::parse_authority_target(target_text, ec);
    if (!target) {
      client_.ctx.shared.stats.on_handshake_error(config::Protocol::http, "bad target");
      client_.result = "bad request: " + ec.message();
      co_await reply_and_close(400, ec.message(), http10);
      co_return false;
    }
    auto who = identify(fields, cfg);
    if (!who) {
      client_.ctx.shared.stats.on_handshake_error(config::Protocol::http, "auth failed");
      client_.result = "proxy authentication required";
      co_return co_await reply(407, "proxy authentication required", true, http10, auth_challenge());
    }
    routing::Request request{target->authority, std::move(*who), routing::Command::connect};
    auto routed = co_await route_and_dial(client_.ctx, request, client_.conn);
    if (routed.dial.ec) {
      auto e = classify(routed.dial.ec);
      client_.record_error(e);
      client_.result = routed.dial.error_message();
      spdlog::debug("conn {} CONNECT {}: {}", client_.conn.id, target->authority.to_string(), client_.result);
      co_await reply_and_close(http_status_for(e), client_.result, http10);
      co_return false;
    }
    bool sent = co_await client_.send("HTTP/1.1 200 Connection established\r\n\r\n");
    if (!sent) {
      client_.result = "client closed";
      co_return false;
    }
    client_.conn.set("open");
    // The session relays it once this session's frames are gone (tunnel_plan.hpp).
    auto pending = bytes_of(client_.in);
    // A CONNECT after other requests on this connection: the access-log line still counts them.
    std::string log_note = requests_ > 1 ? " (" + std::to_string(requests_) + " requests)" : std::string();
    tunnel_.emplace(TunnelPlan{std::move(routed.dial.socket), {pending.begin(), pending.end()},
                               std::move(routed.dial.pending), std::move(routed.dial.holds), client_.idle, std::move(log_note)});
    client_.in.clear();
    client_.result = "ok";
    co_return false;
  }

public:
  /// Parks the upstream connection the client used last (at the end of the client connection).
  void release_held() { upstream_.release_held(client_.ctx); }

  /// The tunnel a CONNECT left to relay, if any.
  std::optional<TunnelPlan> take_tunnel() { return std::move(tunnel_); }

private:
  HttpClient client_;
  HttpUpstreamSide upstream_; ///< the exchanges' state from one request to the next
  config::AuthMode auth_;
  std::size_t requests_ = 0;
  std::optional<TunnelPlan> tunnel_; ///< set by a CONNECT that succeeded
};

} // namespace

awaitable<std::string> serve_http(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                  std::vector<std::uint8_t> buffered, config::AuthMode auth,
                                  std::optional<TunnelPlan>& tunnel) {
  HttpSession session(client, ctx, conn, auth);
  auto result = co_await session.run(std::move(buffered));
  session.release_held();
  tunnel = session.take_tunnel();
  co_return result;
}

} // namespace hopgate::frontend
