#include "hopgate/frontend/session.hpp"

#include "hopgate/codec/http_rewrite.hpp"
#include "hopgate/frontend/http_frontend.hpp"
#include "hopgate/frontend/listener.hpp"
#include "hopgate/frontend/route_request.hpp"
#include "hopgate/frontend/socks_frontend.hpp"
#include "hopgate/relay/relay.hpp"

#include <boost/asio/write.hpp>
#include <algorithm>
#include <mutex>
#include <spdlog/spdlog.h>
#include <string_view>

namespace hopgate::frontend {
namespace {

bool has(const std::vector<config::Protocol>& v, config::Protocol p) { return std::find(v.begin(), v.end(), p) != v.end(); }

/// A refusal at accept is logged at info once per interval with the number since the last
/// line: a flood of refused clients must not become a flood of log lines.
class BurstLog {
public:
  explicit BurstLog(std::chrono::seconds interval) : interval_(interval) {}
  /// Returns how many were suppressed since the last line when this one is to be logged.
  std::optional<std::uint64_t> due() {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    if (last_ != Clock::time_point{} && now - last_ < interval_) {
      ++suppressed_;
      return std::nullopt;
    }
    last_ = now;
    return std::exchange(suppressed_, 0);
  }

private:
  std::mutex mutex_;
  Clock::duration interval_;
  Clock::time_point last_{};
  std::uint64_t suppressed_ = 0;
};

BurstLog denied_log{std::chrono::seconds(5)};
BurstLog over_limit_log{std::chrono::seconds(5)};

std::string more(std::uint64_t suppressed) {
  return suppressed ? " (and " + std::to_string(suppressed) + " more since the last such line)" : std::string();
}

/// An HTTP client over a connection limit: read its request head (bounded, within the handshake
/// deadline), answer 503 and close. Answering before the head is read would risk a reset that
/// destroys the reply in the client's buffer.
awaitable<std::string> refuse_http_over_limit(tcp::socket& client, std::vector<std::uint8_t> head,
                                              const config::Config& cfg, const std::string& which) {
  auto read_head = [&]() -> awaitable<bool> {
    std::array<std::uint8_t, 2048> chunk;
    for (;;) {
      std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
      if (text.find("\r\n\r\n") != std::string_view::npos || text.find("\n\n") != std::string_view::npos) co_return true;
      if (head.size() > cfg.http.max_header_bytes) co_return true; // answer anyway: the reply is the same
      auto [ec, n] = co_await client.async_read_some(asio::buffer(chunk), use_nothrow);
      if (ec) co_return false;
      head.insert(head.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
  };
  auto got = co_await with_timeout(read_head(), cfg.timeouts.handshake);
  if (!got) co_return "handshake timeout (over " + which + ")";
  if (!*got) co_return "closed before request (over " + which + ")";
  auto reply = codec::http::proxy_reply(503, "over the connection limit (" + which + "), try again later", true, false,
                                        {{"Retry-After", "1"}});
  auto [wec, wn] = co_await asio::async_write(client, asio::buffer(reply), use_nothrow);
  (void)wn;
  if (!wec) {
    // Half-close and give the client a moment to read the reply and close its side.
    error_code ignored;
    client.shutdown(tcp::socket::shutdown_send, ignored);
    std::array<std::uint8_t, 1024> sink;
    auto drain = [&]() -> awaitable<bool> {
      for (;;) {
        auto [ec, n] = co_await client.async_read_some(asio::buffer(sink), use_nothrow);
        if (ec) co_return true;
      }
    };
    co_await with_timeout(drain(), std::chrono::seconds(2));
  }
  co_return "over connection limit (" + which + ")";
}

/// Reads the first bytes, tells SOCKS (0x04, 0x05) from HTTP (a method's letters) and serves
/// the protocol. `proto` is set once the protocol is known; `tunnel` when a CONNECT (SOCKS or
/// HTTP) is left to relay.
awaitable<std::string> serve_first_bytes(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                         const config::Config& cfg, const config::Listener& lcfg,
                                         const ConnectionLimits::Slot& slot,
                                         std::optional<TunnelPlan>& tunnel, std::optional<config::Protocol>& proto) {
  std::vector<std::uint8_t> first(512);
  auto [rec, n] = co_await with_deadline(client.async_read_some(asio::buffer(first), use_nothrow), client,
                                          to_clock(cfg.timeouts.handshake));
  if (rec == asio::error::timed_out) co_return "handshake timeout";
  if (rec || n == 0) co_return "closed before request";
  first.resize(n);
  bool is_socks = first[0] == 0x04 || first[0] == 0x05;
  // What the listener speaks (its "protocols", never empty); the first byte decides when it
  // speaks both.
  proto = lcfg.protocols.front();
  if (has(lcfg.protocols, config::Protocol::socks) && has(lcfg.protocols, config::Protocol::http))
    proto = is_socks ? config::Protocol::socks : config::Protocol::http;
  {
    std::lock_guard lock(conn.mutex);
    conn.frontend = *proto;
  }
  ctx.shared.stats.on_open(*proto);
  auto auth = lcfg.auth;
  // Over a limit: HTTP is answered here (503 for any request); SOCKS goes through its own
  // handshake and route_and_dial refuses the request with 0x01 (SOCKS4: 0x5B).
  if (slot.over_limit() && *proto == config::Protocol::http)
    co_return co_await refuse_http_over_limit(client, std::move(first), cfg, slot.which());
  if (*proto == config::Protocol::socks) co_return co_await serve_socks(client, ctx, conn, std::move(first), auth, tunnel);
  co_return co_await serve_http(client, ctx, conn, std::move(first), auth, tunnel);
}

/// What every session does at its end: stats, the access-log line, out of the registry.
void end_session(Shared& shared, observe::Connection& conn, ConnectionLimits::Slot& slot,
                 std::optional<config::Protocol> proto, std::string_view result, Clock::time_point started) {
  if (proto) {
    std::string route;
    ProxyError error;
    {
      std::lock_guard lock(conn.mutex);
      route = conn.route;
      error = conn.error;
    }
    shared.stats.on_close(*proto, route, conn.bytes.up.load(), conn.bytes.down.load(), error);
  }
  {
    std::lock_guard lock(conn.mutex);
    conn.kill = nullptr;
  }
  slot.release();
  log_close(conn, result, Clock::now() - started);
  shared.registry.close(conn.id);
}

/// The end of a session whose tunnel outlived its coroutine: what the coroutine would have
/// done after relaying.
class SessionEnd final : public relay::TunnelEnd {
public:
  SessionEnd(Shared& shared, std::shared_ptr<observe::Connection> conn, ConnectionLimits::Slot slot,
             std::optional<config::Protocol> proto, Clock::time_point started, std::vector<std::shared_ptr<void>> holds,
             std::string log_note)
      : shared_(shared), conn_(std::move(conn)), slot_(std::move(slot)), proto_(proto), started_(started),
        holds_(std::move(holds)), log_note_(std::move(log_note)) {}
  ~SessionEnd() override {
    std::lock_guard lock(conn_->mutex);
    conn_->kill = nullptr; // the closer refers to a tunnel that is gone
  }
  void started(relay::TunnelCloser close) override {
    std::lock_guard lock(conn_->mutex);
    conn_->kill = close;
  }
  void operator()(relay::RelayEnd end) override {
    holds_.clear(); // the hops' active-connection counts drop with the tunnel
    end_session(shared_, *conn_, slot_, proto_, relay::result_text(end) + log_note_, started_);
  }

private:
  Shared& shared_;
  std::shared_ptr<observe::Connection> conn_;
  ConnectionLimits::Slot slot_;
  std::optional<config::Protocol> proto_;
  Clock::time_point started_;
  std::vector<std::shared_ptr<void>> holds_; ///< keeps the hops' active-connection counts up
  std::string log_note_;                     ///< TunnelPlan::log_note
};

} // namespace

awaitable<void> run_session(tcp::socket client, SessionContext ctx) {
  auto snapshot = ctx.current();
  const auto& cfg = *snapshot->config;
  const auto* lcfg = cfg.listeners.find(ctx.listener);
  const auto& peer = ctx.peer;
  if (!lcfg || lcfg->kind == config::ListenerKind::admin || lcfg->protocols.empty()) {
    // Accepted in the moment a reload drops (or re-kinds) the listener, before its socket closed.
    spdlog::debug("closed {} at accept: listener {} is no longer in the config", peer.address().to_string(), ctx.listener);
    co_return;
  }
  if (!lcfg->admits(peer.address())) {
    // Closed at once, before a byte is read: the client learns nothing about what listens here.
    if (auto suppressed = denied_log.due())
      spdlog::info("refused {} on the {} listener: not let in by its allow/deny lists{}", peer.address().to_string(),
                   ctx.listener, more(*suppressed));
    else
      spdlog::debug("refused {} at accept ({} listener, allow/deny)", peer.address().to_string(), ctx.listener);
    co_return;
  }
  auto client_text = endpoint_text(peer);
  auto conn = ctx.shared.registry.open(client_text, lcfg->protocols.front(), client.get_executor());
  auto slot = ctx.shared.guard.connections.acquire(peer.address(), conn->id, cfg.limits.max_connections,
                                                   cfg.limits.max_connections_per_client);
  if (slot.refused()) {
    // Over a limit and too many others already waiting to be told so: close without a word.
    if (auto suppressed = over_limit_log.due())
      spdlog::warn("conn {} {} closed at accept: over {} and {} over-limit connections are waiting{}", conn->id,
                   client_text, slot.which(), ConnectionLimits::over_limit_backlog, more(*suppressed));
    ctx.shared.registry.close(conn->id);
    co_return;
  }
  if (slot.over_limit()) {
    if (auto suppressed = over_limit_log.due())
      spdlog::warn("conn {} {} is over {}: its request will be refused{}", conn->id, client_text, slot.which(),
                   more(*suppressed));
    std::lock_guard lock(conn->mutex);
    conn->error = ProxyError::over_limit;
  }
  {
    std::lock_guard lock(conn->mutex);
    conn->kill = [&client] {
      error_code ignored;
      client.close(ignored);
    };
  }
  auto started = Clock::now();
  error_code ec;
  client.set_option(tcp::no_delay(true), ec);

  // The protocol's handshake runs in its own coroutine, and a CONNECT's tunnel is handed
  // to a relay that owns its sockets: a long-lived tunnel keeps none of these frames.
  std::optional<TunnelPlan> tunnel;
  std::optional<config::Protocol> proto;
  auto result = co_await serve_first_bytes(client, ctx, *conn, cfg, *lcfg, slot, tunnel, proto);
  if (tunnel) {
    auto& t = *tunnel;
    auto written = co_await relay::write_first(client, t.upstream, t.idle, conn->bytes, t.to_upstream, t.to_client);
    if (!written) {
      auto& counters = conn->bytes; // before conn moves into the end
      relay::start(std::move(client), std::move(t.upstream), t.idle, counters,
                   std::make_unique<SessionEnd>(ctx.shared, std::move(conn), std::move(slot), proto, started,
                                                std::move(t.holds), std::move(t.log_note)));
      co_return;
    }
    result = relay::result_text(relay::RelayEnd::error) + t.log_note;
  }
  end_session(ctx.shared, *conn, slot, proto, result, started);
}

} // namespace hopgate::frontend
