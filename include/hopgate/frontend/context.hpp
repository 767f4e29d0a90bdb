#pragma once
// What a front-end session needs from the rest of the process.
#include "hopgate/observe/registry.hpp"
#include "hopgate/observe/stats.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/dns/resolver.hpp"
#include "hopgate/frontend/http_pool.hpp"
#include "hopgate/frontend/limits.hpp"
#include "hopgate/routing/published.hpp"

#include <atomic>
#include <memory>
#include <vector>

namespace hopgate::frontend {

/// Process-wide state shared by every session: read-mostly.
struct Shared {
  routing::Published routes; ///< the snapshot in force
  observe::Registry registry;
  observe::Stats stats;
  std::atomic<bool> draining{false};
  Guard guard; ///< connection limits and hopgate's own listening addresses (limits.hpp)

  std::shared_ptr<const routing::Snapshot> current() const { return routes.current(); }
  void publish(std::shared_ptr<const routing::Snapshot> next) { routes.publish(std::move(next)); }
};

/// Per io_context state: a session lives on one worker from accept to close. Used only from the
/// worker's own thread.
struct Worker {
  explicit Worker(asio::any_io_executor ex) : resolver(ex) {}
  dns::Resolver resolver;
  HttpPool http_pool; ///< idle upstream connections of the HTTP front end on this worker

  /// The current snapshot, for a request or connection on this worker. Shared::current() would
  /// take a lock word and a reference count that every worker writes, per request; here a
  /// request costs a plain load of the version, and the pointer handed out counts its
  /// references in a block of this worker's own (which keeps the shared one alive).
  std::shared_ptr<const routing::Snapshot> current(const Shared& shared) {
    auto version = shared.routes.version();
    if (!local_ || version != version_) {
      auto holder = std::make_shared<const std::shared_ptr<const routing::Snapshot>>(shared.current());
      local_ = std::shared_ptr<const routing::Snapshot>(holder, holder->get());
      version_ = version;
    }
    return local_;
  }

private:
  std::uint64_t version_ = 0;
  std::shared_ptr<const routing::Snapshot> local_;
};

struct SessionContext {
  Shared& shared;
  Worker& worker;
  tcp::endpoint peer{}; ///< the client's address and port, as accept returned them (no getpeername per use)
  std::string listener; ///< the name of the listener it came in on (routes' "frontend" matches it)

  /// The current snapshot (see Worker::current).
  std::shared_ptr<const routing::Snapshot> current() const { return worker.current(shared); }
};

} // namespace hopgate::frontend
