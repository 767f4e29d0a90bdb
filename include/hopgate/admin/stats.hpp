#pragma once
// Process-wide traffic statistics, fed once per connection (open and close), read by the
// admin API (/api/v1/stats, /metrics). Never touched per byte.
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/core/error.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace hopgate::admin {

struct TrafficTotals {
  std::uint64_t connections = 0;
  std::uint64_t active = 0;
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> errors_by_kind;  ///< ProxyError message -> count
  std::map<std::string, std::uint64_t> results;         ///< "ok", "blocked", "connection refused"...
};

class Stats {
public:
  void on_open(config::Protocol frontend);
  /// `route` is the rule name ("default" when none matched); `result` ok or the failure.
  void on_close(config::Protocol frontend, const std::string& route, std::uint64_t up, std::uint64_t down, ProxyError result);
  /// A handshake that failed before any route was chosen (bad bytes, auth failure).
  void on_handshake_error(config::Protocol frontend, std::string_view kind);

  TrafficTotals frontend_totals(config::Protocol frontend) const;
  std::map<std::string, TrafficTotals> route_totals() const;
  std::map<std::string, std::uint64_t> handshake_errors() const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, TrafficTotals> frontends_;
  std::map<std::string, TrafficTotals> routes_;
  std::map<std::string, std::uint64_t> handshake_errors_;
};

} // namespace hopgate::admin
