#include "hopgate/upstream/health.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <random>
#include <spdlog/spdlog.h>

namespace hopgate::upstream {

Health& Health::instance() {
  static Health h;
  return h;
}

bool Health::available(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.up) return true;
  return Clock::now() >= it->second.down_until;
}

bool Health::is_up(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  return it == entries_.end() || it->second.up;
}

void Health::record_success(const std::string& name, Clock::duration latency) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[name];
  ++e.successes;
  double ms = std::chrono::duration<double, std::milli>(latency).count();
  e.latency_ms = e.successes == 1 ? ms : 0.8 * e.latency_ms + 0.2 * ms;
  e.fails.clear();
  e.backoff = {};
  if (!e.up) {
    e.up = true;
    spdlog::info("upstream {} is up again", name);
  }
}

void Health::record_failure(const std::string& name, const std::string& error, unsigned max_fails, Clock::duration fail_window) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[name];
  ++e.failures;
  e.last_error = error;
  auto now = Clock::now();
  e.fails.push_back(now);
  while (!e.fails.empty() && now - e.fails.front() > fail_window) e.fails.pop_front();
  if (e.up && e.fails.size() >= std::max(1u, max_fails)) {
    e.up = false;
    e.backoff = std::chrono::seconds(1);
    e.down_until = now + e.backoff;
    spdlog::warn("upstream {} is down after {} failure(s): {}", name, e.fails.size(), error);
  } else if (!e.up) {
    // A retry after the back-off failed again: wait twice as long, up to a minute.
    e.backoff = std::min<Clock::duration>(e.backoff * 2, std::chrono::seconds(60));
    e.down_until = now + e.backoff;
  }
}

std::uint64_t Health::active(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  return it == entries_.end() ? 0 : it->second.active;
}

std::shared_ptr<void> Health::hold(const std::string& name) {
  {
    std::lock_guard lock(mutex_);
    ++entries_[name].active;
  }
  return std::shared_ptr<void>(nullptr, [this, name](void*) {
    std::lock_guard lock(mutex_);
    auto& e = entries_[name];
    if (e.active) --e.active;
  });
}

std::vector<HealthView> Health::view() {
  std::lock_guard lock(mutex_);
  std::vector<HealthView> out;
  auto now = Clock::now();
  for (auto& [name, e] : entries_) {
    HealthView v{name, e.up, e.last_error, static_cast<unsigned>(e.fails.size()), e.latency_ms, e.active, e.successes, e.failures, 0};
    if (!e.up && e.down_until > now) v.retry_in_s = std::chrono::duration<double>(e.down_until - now).count();
    out.push_back(std::move(v));
  }
  return out;
}

void Health::reset() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

std::vector<std::string> order_members(const config::Group& group, const std::string& group_name, const std::string& hash_input) {
  static std::atomic<std::uint64_t> round_robin{0};
  auto& health = Health::instance();
  const auto& m = group.members;
  std::vector<std::string> out;
  if (m.empty()) return out;
  std::size_t first = 0;
  using S = config::Group::Strategy;
  switch (group.strategy) {
  case S::failover: first = 0; break;
  case S::round_robin: {
    // Skip members that are down so that the healthy ones share the load evenly.
    for (std::size_t tries = 0; tries < m.size(); ++tries) {
      first = round_robin.fetch_add(1, std::memory_order_relaxed) % m.size();
      if (health.available(m[first])) break;
    }
    break;
  }
  case S::least_connections: {
    std::uint64_t best = UINT64_MAX;
    for (std::size_t i = 0; i < m.size(); ++i) {
      auto a = health.active(m[i]);
      if (health.available(m[i]) && a < best) {
        best = a;
        first = i;
      }
    }
    break;
  }
  case S::random: {
    thread_local std::mt19937 rng{std::random_device{}()};
    first = std::uniform_int_distribution<std::size_t>(0, m.size() - 1)(rng);
    break;
  }
  case S::hash: first = std::hash<std::string>{}(group_name + "|" + hash_input) % m.size(); break;
  }
  for (std::size_t i = 0; i < m.size(); ++i) out.push_back(m[(first + i) % m.size()]);
  // Healthy (or due for a retry) members first, keeping the strategy's order among each kind.
  std::stable_partition(out.begin(), out.end(), [&](const std::string& n) { return health.available(n); });
  return out;
}

} // namespace hopgate::upstream
