#include "hopgate/frontend/session.hpp"

#include "hopgate/frontend/http_frontend.hpp"
#include "hopgate/frontend/route_request.hpp"
#include "hopgate/frontend/socks_frontend.hpp"

#include <spdlog/spdlog.h>

namespace hopgate::frontend {
namespace {

const config::Listener* listener_config(const config::Config& cfg, config::Protocol kind) {
  const auto& l = kind == config::Protocol::http ? cfg.listeners.http : cfg.listeners.socks;
  return l ? &*l : nullptr;
}

bool client_allowed(const config::Listener& l, const asio::ip::address& a) {
  for (auto& c : l.deny)
    if (c.contains(a)) return false;
  if (l.allow.empty()) return true;
  for (auto& c : l.allow)
    if (c.contains(a)) return true;
  return false;
}

bool has(const std::vector<config::Protocol>& v, config::Protocol p) { return std::find(v.begin(), v.end(), p) != v.end(); }

} // namespace

awaitable<void> run_session(tcp::socket client, SessionContext ctx, ListenerInfo listener) {
  auto snapshot = ctx.shared.current();
  const auto* lcfg = listener_config(*snapshot->config, listener.kind);
  error_code ec;
  auto peer = client.remote_endpoint(ec);
  if (ec) co_return;
  if (lcfg && !client_allowed(*lcfg, peer.address())) {
    spdlog::info("refused {} on the {} listener: not in its allow list", peer.address().to_string(), config::to_string(listener.kind));
    co_return;
  }
  std::string client_text = peer.address().is_v6() ? "[" + peer.address().to_string() + "]:" + std::to_string(peer.port())
                                                   : peer.address().to_string() + ":" + std::to_string(peer.port());
  auto conn = ctx.shared.registry.open(client_text, listener.kind, client.get_executor());
  {
    std::lock_guard lock(conn->mutex);
    conn->kill = [&client] {
      error_code ignored;
      client.close(ignored);
    };
  }
  auto started = Clock::now();
  client.set_option(tcp::no_delay(true), ec);

  // Read the first bytes to tell SOCKS (0x04, 0x05) from HTTP (a method's letters).
  std::vector<std::uint8_t> first(512);
  auto got = co_await with_timeout(client.async_read_some(asio::buffer(first), use_nothrow), snapshot->config->timeouts.handshake);
  std::string result;
  if (!got) result = "handshake timeout";
  else if (auto [rec, n] = *got; rec || n == 0) result = "closed before request";
  else {
    first.resize(n);
    bool is_socks = first[0] == 0x04 || first[0] == 0x05;
    config::Protocol proto = listener.kind;
    if (has(listener.protocols, config::Protocol::socks) && has(listener.protocols, config::Protocol::http))
      proto = is_socks ? config::Protocol::socks : config::Protocol::http;
    {
      std::lock_guard lock(conn->mutex);
      conn->frontend = proto;
    }
    ctx.shared.stats.on_open(proto);
    auto auth = lcfg ? lcfg->auth : config::AuthMode::none;
    if (proto == config::Protocol::socks) result = co_await serve_socks(client, ctx, *conn, std::move(first), auth);
    else result = co_await serve_http(client, ctx, *conn, std::move(first), auth);
    std::string route;
    ProxyError error;
    {
      std::lock_guard lock(conn->mutex);
      route = conn->route;
      error = conn->error;
    }
    ctx.shared.stats.on_close(proto, route, conn->bytes.up.load(), conn->bytes.down.load(), error);
  }
  {
    std::lock_guard lock(conn->mutex);
    conn->kill = nullptr;
  }
  log_close(*conn, result, Clock::now() - started);
  ctx.shared.registry.close(conn->id);
}

} // namespace hopgate::frontend
