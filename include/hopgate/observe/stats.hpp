#pragma once
// Process-wide traffic statistics, fed once per connection (open, dial, close) and once per
// reload, read by the admin API (/api/v1/stats, /metrics). Never touched per byte: the byte
// counters of a live connection are its own atomics in the registry, added here at close.
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/core/error.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace hopgate::observe {

struct TrafficTotals {
  std::uint64_t connections = 0;
  std::uint64_t active = 0;
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> errors_by_kind;  ///< ProxyError message -> count
  std::map<std::string, std::uint64_t> results;         ///< "ok", "blocked", "connection refused"...
};

/// Dial latency of one upstream (or "direct"): a Prometheus-style cumulative histogram.
struct DialHistogram {
  /// Upper bounds in seconds; the implicit last bucket is +Inf.
  static constexpr std::array<double, 12> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  std::array<std::uint64_t, bounds.size()> buckets{}; ///< per bucket (not cumulative)
  std::uint64_t count = 0;                            ///< every dial, also the +Inf bucket
  std::uint64_t failures = 0;
  double sum = 0; ///< seconds
};

/// Closed connections by (front end, route, result); route is "none" when the connection never
/// reached routing (closed or failed in the handshake).
using ConnectionKey = std::tuple<std::string, std::string, std::string>;

/// Everything at one instant, taken under one lock.
struct StatsSnapshot {
  std::map<std::string, TrafficTotals> frontends;  ///< "http", "socks"
  std::map<std::string, TrafficTotals> routes;     ///< closed connections per rule name
  std::map<ConnectionKey, std::uint64_t> connections;
  std::map<std::string, std::uint64_t> handshake_errors; ///< "socks:bad version" -> count
  std::map<std::string, DialHistogram> dials;            ///< upstream (hop names joined by " -> ") or "direct"
  std::map<std::string, std::uint64_t> route_dns_lookups; ///< local DNS lookups made for requests of a route
  std::map<std::pair<std::string, std::string>, std::uint64_t> reloads; ///< (source, "ok" | "error") -> count
  std::map<std::string, std::uint64_t> admin_refused; ///< admin requests refused by the browser guard, by reason
};

/// Per-second rates over a sliding window, from samples of monotonically growing totals.
class RateWindow {
public:
  using Totals = std::map<std::string, double>;
  explicit RateWindow(Clock::duration window = std::chrono::seconds(60)) : window_(window) {}
  /// Adds a sample (kept at most one per second) and returns the per-second rate of every key
  /// since the oldest sample in the window (since `origin`, all zero, when there is none yet).
  Totals rates(Clock::time_point now, const Totals& totals, Clock::time_point origin);

private:
  std::mutex mutex_;
  Clock::duration window_;
  std::deque<std::pair<Clock::time_point, Totals>> samples_;
};

class Stats {
public:
  void on_open(config::Protocol frontend);
  /// `route` is the rule name ("default" when none matched); `result` ok or the failure.
  void on_close(config::Protocol frontend, const std::string& route, std::uint64_t up, std::uint64_t down, ProxyError result);
  /// A handshake that failed before any route was chosen (bad bytes, auth failure).
  void on_handshake_error(config::Protocol frontend, std::string_view kind);
  /// One dial along a route (direct or through upstreams), successful or not.
  void on_dial(const std::string& upstream, Clock::duration took, bool ok);
  /// Local DNS lookups made while routing and dialing one request of `route`.
  void on_local_lookups(const std::string& route, unsigned lookups);
  /// A reload or config change: `source` "signal", "reload", "routes".
  void on_reload(std::string_view source, bool ok);
  /// An admin request refused by the browser guard: `reason` "host" or "cross_site".
  void on_admin_refused(std::string_view reason);

  TrafficTotals frontend_totals(config::Protocol frontend) const;
  std::map<std::string, TrafficTotals> route_totals() const;
  std::map<std::string, std::uint64_t> handshake_errors() const;
  StatsSnapshot snapshot() const;

  /// Rates for GET /api/v1/stats (shared by every admin client, so one window for all).
  RateWindow& rates() { return rates_; }

private:
  mutable std::mutex mutex_;
  StatsSnapshot s_;
  RateWindow rates_;
};

} // namespace hopgate::observe
