#pragma once
// What the admin API reads: the published routes, the live connections and the counters
// (observe/), and whether the process is draining. The gateway hands these in; admin includes
// nothing of the front ends.
#include "hopgate/observe/registry.hpp"
#include "hopgate/observe/stats.hpp"
#include "hopgate/routing/published.hpp"

#include <atomic>
#include <memory>

namespace hopgate::admin {

struct Sources {
  routing::Published& routes;
  observe::Registry& registry;
  observe::Stats& stats;
  const std::atomic<bool>& draining;

  std::shared_ptr<const routing::Snapshot> current() const { return routes.current(); }
};

} // namespace hopgate::admin
