#include "hopgate/upstream/prober.hpp"

#include "hopgate/upstream/dialer.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <map>

namespace hopgate::upstream {
namespace {

constexpr auto tick_interval = std::chrono::milliseconds(250);

/// Whether a route (or the default) goes through `name`: an unused group is not probed.
bool used(const config::Config& cfg, const std::string& name) {
  auto in = [&](const config::Via& v) { return std::find(v.chain.begin(), v.chain.end(), name) != v.chain.end(); };
  return in(cfg.default_via) || std::any_of(cfg.routes.begin(), cfg.routes.end(), [&](auto& r) { return in(r.via); });
}

awaitable<void> probe(DialRequest req, dns::Resolver& resolver) {
  auto r = co_await dial(req, resolver);
  error_code ignored;
  r.socket.close(ignored);
}

} // namespace

awaitable<void> run_probes(const routing::Published& routes, dns::Resolver& resolver, const std::atomic<bool>& stopping) {
  std::map<std::string, Clock::time_point> next_probe;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer tick(ex);
  while (!stopping) {
    tick.expires_after(tick_interval);
    co_await tick.async_wait(use_nothrow);
    auto snapshot = routes.current();
    const auto& cfg = *snapshot->config;
    auto now = Clock::now();
    for (const auto& up : cfg.upstreams) {
      const auto* g = std::get_if<config::Group>(&up.kind);
      if (!g || g->probe_interval.count() <= 0 || g->probe.empty() || !used(cfg, up.name)) continue;
      auto& next = next_probe[up.name];
      if (now < next) continue;
      next = now + to_clock(g->probe_interval);
      auto target = TargetAddress::parse(g->probe);
      if (!target) continue;
      for (const auto& member : g->members) {
        DialRequest req{snapshot, config::Via{config::Via::Kind::chain, {member}}, *target, {}, config::RemoteDns::any,
                        routing::Command::connect};
        asio::co_spawn(ex, probe(std::move(req), resolver), asio::detached);
      }
    }
  }
}

} // namespace hopgate::upstream
