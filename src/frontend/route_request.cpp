#include "hopgate/frontend/route_request.hpp"

#include "hopgate/core/error.hpp"
#include "hopgate/frontend/target_policy.hpp"

#include <spdlog/spdlog.h>

namespace hopgate::frontend {

awaitable<RoutedConnection> route_and_dial(SessionContext& ctx, const upstream::ClientIdentity& client,
                                           const TargetAddress& target, std::uint8_t socks_command,
                                           admin::Connection& conn) {
  auto ex = co_await asio::this_coro::executor;
  RoutedConnection out{ctx.current(), {}, upstream::DialResult{tcp::socket(ex), {}, "route", {}, {}, {}, {}, 0, {}}};
  routing::RequestInfo info{target, client.frontend, client.address, client.user};
  out.decision = out.snapshot->table.match(info);
  unsigned lookups = 0; // local DNS lookups for this request, for the admin stats per route
  if (out.decision.needs_resolution) {
    // A "resolve": true rule wants the name's addresses: this lookup is local by the rule's own choice.
    ++lookups;
    auto res = co_await ctx.worker.resolver.resolve(target.domain, &out.snapshot->config->dns);
    out.decision = out.snapshot->table.match(info, res.addresses, true);
  }
  {
    std::lock_guard lock(conn.mutex);
    conn.target = target.to_string();
    conn.route = out.decision.rule_name();
    conn.hops = out.decision.via.display();
    conn.user = client.user;
    conn.state = "connecting";
  }
  spdlog::debug("conn {} route {} -> {}", conn.id, out.decision.rule_name(), out.decision.via.display());
  // Connection limits, hopgate's own listeners, private targets (target_policy.hpp).
  Refusal refusal;
  bool refused = co_await refuse_request(ctx, conn, target, out.decision, refusal);
  if (refused) {
    out.dial.ec = refusal.ec;
    out.dial.where = std::move(refusal.where);
    out.dial.detail = std::move(refusal.detail);
    co_return out;
  }
  const config::Route* route = out.decision.route;
  if (route && !route->allow_ports.empty()) {
    bool ok = false;
    for (auto& p : route->allow_ports) ok = ok || p.contains(target.port);
    if (!ok) {
      out.dial.ec = ProxyError::not_allowed;
      out.dial.where = "route " + route->name;
      out.dial.detail = "port " + std::to_string(target.port) + " not allowed";
      ctx.shared.stats.on_local_lookups(out.decision.rule_name(), lookups);
      co_return out;
    }
  }
  if (out.decision.via.kind == config::Via::Kind::block) {
    out.dial.ec = ProxyError::blocked;
    out.dial.where = "route " + out.decision.rule_name();
    ctx.shared.stats.on_local_lookups(out.decision.rule_name(), lookups);
    co_return out;
  }
  upstream::DialRequest req{out.snapshot, out.decision.via, target, client,
                            route ? route->remote_dns : config::RemoteDns::any, socks_command};
  out.dial = co_await upstream::dial(req, ctx.worker.resolver);
  // Dial latency is labelled by the route's configured action ("direct", "tor", "office -> tor",
  // a group's name): a stable, small label set the operator recognises.
  ctx.shared.stats.on_dial(out.decision.via.display(), out.dial.took, !out.dial.ec);
  ctx.shared.stats.on_local_lookups(out.decision.rule_name(), lookups + out.dial.local_lookups);
  {
    std::lock_guard lock(conn.mutex);
    conn.state = out.dial.ec ? "failed" : "open";
  }
  co_return out;
}

void log_close(const admin::Connection& conn, std::string_view result, Clock::duration took) {
  std::lock_guard lock(conn.mutex);
  spdlog::info("conn {} {} {} user={} target={} route={} via={} up={} down={} {:.3f}s {}", conn.id,
               config::to_string(conn.frontend), conn.client, conn.user.empty() ? "-" : conn.user,
               conn.target.empty() ? "-" : conn.target, conn.route.empty() ? "-" : conn.route,
               conn.hops.empty() ? "-" : conn.hops, conn.bytes.up.load(std::memory_order_relaxed),
               conn.bytes.down.load(std::memory_order_relaxed), std::chrono::duration<double>(took).count(), result);
}

} // namespace hopgate::frontend
