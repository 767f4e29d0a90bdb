#pragma once
// Active health checks: every group with an "interval" (and used by a route) has each of its
// members dialled toward its "probe" target that often. A probe is an ordinary dial through
// that one member, so the dialer records its outcome in Health like any other (health.hpp).
#include "hopgate/core/asio.hpp"
#include "hopgate/dns/resolver.hpp"
#include "hopgate/routing/published.hpp"

#include <atomic>

namespace hopgate::upstream {

/// Runs until `stopping`, on the caller's executor; reads the snapshot in force at each tick,
/// so a reload's groups and intervals apply from the next one.
awaitable<void> run_probes(const routing::Published& routes, dns::Resolver& resolver, const std::atomic<bool>& stopping);

} // namespace hopgate::upstream
