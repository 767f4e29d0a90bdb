#pragma once
// How many DNS lookups may be in flight in the whole process (dns.max_concurrent_lookups): the
// resolver takes a permit before a lookup that goes to the network.
#include "hopgate/core/asio.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

namespace hopgate::dns {

/// Bounds the DNS lookups in flight in the whole process: a lookup that would go to the network
/// (a cache miss) takes a permit first, and waits for one while `max` are out.
class LookupLimiter {
public:
  class Permit {
  public:
    Permit() = default;
    explicit Permit(LookupLimiter* l) : owner_(l) {}
    Permit(Permit&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)) {}
    Permit& operator=(Permit&& o) noexcept {
      if (this != &o) {
        reset();
        owner_ = std::exchange(o.owner_, nullptr);
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { reset(); }
    void reset() {
      if (owner_) owner_->in_flight_.fetch_sub(1, std::memory_order_acq_rel);
      owner_ = nullptr;
    }

  private:
    LookupLimiter* owner_ = nullptr;
  };

  /// Takes a permit (`max` 0: unlimited), waiting up to `wait` for one. nullopt when none
  /// became free in time: the caller fails the lookup ("too many lookups in flight").
  awaitable<std::optional<Permit>> acquire(std::size_t max, Clock::duration wait);
  /// Takes a permit if one is free now.
  std::optional<Permit> try_acquire(std::size_t max);
  std::size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  /// Lookups that waited for a permit, and those that gave up waiting.
  std::uint64_t waited() const { return waited_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  /// The process's limiter (every Resolver uses it).
  static LookupLimiter& process();

private:
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::uint64_t> waited_{0};
  std::atomic<std::uint64_t> refused_{0};
};

} // namespace hopgate::dns
