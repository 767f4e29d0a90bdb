#include "hopgate/frontend/route_request.hpp"

#include "hopgate/core/error.hpp"

#include <spdlog/spdlog.h>

namespace hopgate::frontend {

awaitable<Admission> admit(SessionContext& ctx, std::shared_ptr<const routing::Snapshot> snapshot,
                           const routing::Request& request, const observe::Connection& conn) {
  Admission out{std::move(snapshot), {}, std::nullopt};
  out.verdict = routing::decide(*out.snapshot, request);
  if (out.verdict.needs_resolution())
    out.verdict = co_await routing::resolve_and_decide(*out.snapshot, request, ctx.worker.resolver);
  if (out.verdict.lookups_made) ctx.shared.stats.on_local_lookups(out.verdict.rule_name(), out.verdict.lookups_made);
  spdlog::debug("conn {} route {} -> {}", conn.id, out.verdict.rule_name(), out.verdict.decision.via.display());
  // Connection limits, hopgate's own listeners, private targets (target_policy.hpp).
  Refusal refusal;
  if (co_await refuse_request(ctx, *out.snapshot, conn, request.target, out.verdict.decision, refusal)) out.policy = std::move(refusal);
  co_return out;
}

Refusal route_refusal(const routing::Verdict& verdict, const TargetAddress& target) {
  using R = routing::Verdict::Refusal;
  Refusal r;
  r.where = "route " + verdict.rule_name();
  switch (verdict.refusal) {
  case R::none: break;
  case R::port_not_allowed:
    r.ec = ProxyError::not_allowed;
    r.detail = "port " + std::to_string(target.port) + " not allowed";
    break;
  case R::blocked: r.ec = ProxyError::blocked; break;
  case R::command_not_supported: r.ec = ProxyError::command_not_supported; break;
  }
  return r;
}

upstream::DialRequest dial_request(std::shared_ptr<const routing::Snapshot> snapshot, const routing::Verdict& verdict,
                                   const routing::Request& request) {
  return upstream::DialRequest{std::move(snapshot), verdict.decision.via, request.target, request.client,
                               verdict.remote_dns, request.command};
}

awaitable<RoutedConnection> route_and_dial(SessionContext& ctx, const routing::Request& request, observe::Connection& conn) {
  auto ex = co_await asio::this_coro::executor;
  auto snapshot = ctx.current(); // named: GCC 12 mishandles temporaries in a co_await (docs/architecture.md)
  auto admission = co_await admit(ctx, snapshot, request, conn);
  RoutedConnection out{admission.snapshot, std::move(admission.verdict),
                       upstream::DialResult{tcp::socket(ex), {}, "route", {}, {}, {}, {}, 0, {}}};
  const auto& verdict = out.verdict;
  {
    std::lock_guard lock(conn.mutex);
    conn.target = request.target.to_string();
    conn.route = verdict.rule_name();
    conn.hops = verdict.decision.via.display();
    conn.user = request.client.user;
    conn.state = "connecting";
  }
  auto fail = [&](Refusal r) {
    out.dial.ec = r.ec;
    out.dial.where = std::move(r.where);
    out.dial.detail = std::move(r.detail);
  };
  if (admission.policy) {
    fail(std::move(*admission.policy));
    co_return out;
  }
  if (verdict.refusal != routing::Verdict::Refusal::none) {
    fail(route_refusal(verdict, request.target));
    ctx.shared.stats.on_local_lookups(verdict.rule_name(), 0); // the route's row appears once it saw traffic
    co_return out;
  }
  auto dial = dial_request(out.snapshot, verdict, request);
  out.dial = co_await upstream::dial(dial, ctx.worker.resolver);
  // Dial latency is labelled by the route's configured action ("direct", "tor", "office -> tor",
  // a group's name): a stable, small label set the operator recognises.
  ctx.shared.stats.on_dial(verdict.decision.via.display(), out.dial.took, !out.dial.ec);
  ctx.shared.stats.on_local_lookups(verdict.rule_name(), out.dial.local_lookups);
  {
    std::lock_guard lock(conn.mutex);
    conn.state = out.dial.ec ? "failed" : "open";
  }
  co_return out;
}

void log_close(const observe::Connection& conn, std::string_view result, Clock::duration took) {
  std::lock_guard lock(conn.mutex);
  spdlog::info("conn {} {} {} user={} target={} route={} via={} up={} down={} {:.3f}s {}", conn.id,
               config::to_string(conn.frontend), conn.client, conn.user.empty() ? "-" : conn.user,
               conn.target.empty() ? "-" : conn.target, conn.route.empty() ? "-" : conn.route,
               conn.hops.empty() ? "-" : conn.hops, conn.bytes.up.load(std::memory_order_relaxed),
               conn.bytes.down.load(std::memory_order_relaxed), std::chrono::duration<double>(took).count(), result);
}

} // namespace hopgate::frontend
