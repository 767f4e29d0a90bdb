#pragma once
// Published: the snapshot in force. A reload publishes a new one whole; sessions (through their
// worker's copy, frontend::Worker::current) and the admin API read it.
#include "hopgate/routing/snapshot.hpp"

#include <atomic>
#include <cstdint>
#include <memory>

namespace hopgate::routing {

class Published {
public:
  std::shared_ptr<const Snapshot> current() const { return snapshot_.load(std::memory_order_acquire); }
  void publish(std::shared_ptr<const Snapshot> next) {
    snapshot_.store(std::move(next), std::memory_order_release);
    version_.fetch_add(1, std::memory_order_release);
  }
  /// Moves on after each publish(); a worker compares it with its own copy (a plain load, no
  /// write to a line the other workers read) to know when to take the new snapshot.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

private:
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<std::uint64_t> version_{0};
};

} // namespace hopgate::routing
