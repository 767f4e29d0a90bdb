#include "hopgate/dns/lookup_limiter.hpp"

#include <algorithm>

namespace hopgate::dns {

LookupLimiter& LookupLimiter::process() {
  static LookupLimiter limiter;
  return limiter;
}

std::optional<LookupLimiter::Permit> LookupLimiter::try_acquire(std::size_t max) {
  auto n = in_flight_.load(std::memory_order_relaxed);
  for (;;) {
    if (max && n >= max) return std::nullopt;
    if (in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return Permit(this);
  }
}

awaitable<std::optional<LookupLimiter::Permit>> LookupLimiter::acquire(std::size_t max, Clock::duration wait) {
  if (auto p = try_acquire(max)) co_return p;
  // Rare (only when `max` lookups are already out), so the waiters poll instead of queueing:
  // a poll survives cancellation and needs no hand-off between io_contexts.
  waited_.fetch_add(1, std::memory_order_relaxed);
  auto deadline = Clock::now() + wait;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto step = std::chrono::milliseconds(1);
  while (Clock::now() < deadline) {
    timer.expires_after(std::min<Clock::duration>(step, deadline - Clock::now()));
    auto [ec] = co_await timer.async_wait(use_nothrow);
    if (ec == asio::error::operation_aborted) break;
    if (auto p = try_acquire(max)) co_return p;
    step = std::min(step * 2, std::chrono::milliseconds(20));
  }
  refused_.fetch_add(1, std::memory_order_relaxed);
  co_return std::nullopt;
}

} // namespace hopgate::dns
