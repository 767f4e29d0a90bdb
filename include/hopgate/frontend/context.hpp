#pragma once
// What a front-end session needs from the rest of the process.
#include "hopgate/admin/registry.hpp"
#include "hopgate/admin/stats.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/dns/resolver.hpp"
#include "hopgate/frontend/http_pool.hpp"
#include "hopgate/frontend/limits.hpp"
#include "hopgate/routing/snapshot.hpp"

#include <atomic>
#include <memory>
#include <vector>

namespace hopgate::frontend {

/// Process-wide state shared by every session: read-mostly.
struct Shared {
  std::atomic<std::shared_ptr<const routing::Snapshot>> snapshot;
  admin::Registry registry;
  admin::Stats stats;
  std::atomic<bool> draining{false};
  Guard guard; ///< connection limits and hopgate's own listening addresses (limits.hpp)

  std::shared_ptr<const routing::Snapshot> current() const { return snapshot.load(std::memory_order_acquire); }
};

/// Per io_context state: a session lives on one worker from accept to close.
struct Worker {
  explicit Worker(asio::any_io_executor ex) : resolver(ex) {}
  dns::Resolver resolver;
  HttpPool http_pool; ///< idle upstream connections of the HTTP front end on this worker
};

struct SessionContext {
  Shared& shared;
  Worker& worker;
  tcp::endpoint peer{}; ///< the client's address and port, as accept returned them (no getpeername per use)
};

} // namespace hopgate::frontend
