#pragma once
// Upstream health: passive (every dial reports its outcome) and active (optional probes).
// A member is marked down after `max_fails` hop-side failures within `fail_window`, then
// retried after an exponential back-off; one success marks it up. Target-side failures
// (refused by the target, host unreachable) never count against the hop.
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hopgate::upstream {

struct HealthView {
  std::string name;
  bool up = true;
  std::string last_error;
  unsigned recent_fails = 0;
  double latency_ms_ewma = 0;
  std::uint64_t active = 0;
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  double retry_in_s = 0; ///< while down: seconds until the next attempt is allowed
};

class Health {
public:
  /// Process-wide table, keyed by upstream name.
  static Health& instance();

  /// True when the member may be tried now (up, or down with its back-off elapsed).
  bool available(const std::string& name);
  bool is_up(const std::string& name);
  void record_success(const std::string& name, Clock::duration latency);
  void record_failure(const std::string& name, const std::string& error, unsigned max_fails, Clock::duration fail_window);
  std::uint64_t active(const std::string& name);
  /// Counts a connection through `name` as active until the returned guard is destroyed.
  std::shared_ptr<void> hold(const std::string& name);
  std::vector<HealthView> view();
  /// Forgets every entry (tests).
  void reset();

private:
  struct Entry {
    bool up = true;
    std::string last_error;
    std::deque<Clock::time_point> fails;
    Clock::time_point down_until{};
    Clock::duration backoff{};
    double latency_ms = 0;
    std::uint64_t active = 0;
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

/// Orders a group's members for one connection: the strategy's pick first, then the rest;
/// members that are down (and still backing off) go last.
std::vector<std::string> order_members(const config::Group& group, const std::string& group_name,
                                       const std::string& hash_input);

} // namespace hopgate::upstream
