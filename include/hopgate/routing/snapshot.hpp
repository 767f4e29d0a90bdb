#pragma once
// Snapshot: one immutable config plus its compiled route table. Sessions take one per request
// or connection (through their worker's copy, frontend::Worker::current) and keep it for as long
// as they need it, so a reload never changes a connection that is already routed.
#include "hopgate/config/config.hpp"
#include "hopgate/routing/route_table.hpp"

#include <cstdint>
#include <memory>

namespace hopgate::routing {

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  RouteTable table;
  std::uint64_t generation = 0;

  static std::shared_ptr<const Snapshot> make(std::shared_ptr<const config::Config> c, std::uint64_t generation) {
    RouteTable t(c->routes, c->default_via);
    return std::make_shared<const Snapshot>(Snapshot{std::move(c), std::move(t), generation});
  }
};

} // namespace hopgate::routing
