#include "hopgate/admin/stats.hpp"

namespace hopgate::admin {

void Stats::on_open(config::Protocol frontend) {
  std::lock_guard lock(mutex_);
  auto& t = frontends_[std::string(config::to_string(frontend))];
  ++t.connections;
  ++t.active;
}

void Stats::on_close(config::Protocol frontend, const std::string& route, std::uint64_t up, std::uint64_t down,
                     ProxyError result) {
  std::string kind = result == ProxyError::ok ? "ok" : error_code(result).message();
  std::lock_guard lock(mutex_);
  auto& f = frontends_[std::string(config::to_string(frontend))];
  if (f.active) --f.active;
  f.bytes_up += up;
  f.bytes_down += down;
  ++f.results[kind];
  if (result != ProxyError::ok) {
    ++f.errors;
    ++f.errors_by_kind[kind];
  }
  if (route.empty()) return;
  auto& r = routes_[route];
  ++r.connections;
  r.bytes_up += up;
  r.bytes_down += down;
  ++r.results[kind];
  if (result != ProxyError::ok) {
    ++r.errors;
    ++r.errors_by_kind[kind];
  }
}

void Stats::on_handshake_error(config::Protocol frontend, std::string_view kind) {
  std::lock_guard lock(mutex_);
  ++handshake_errors_[std::string(config::to_string(frontend)) + ":" + std::string(kind)];
}

TrafficTotals Stats::frontend_totals(config::Protocol frontend) const {
  std::lock_guard lock(mutex_);
  auto it = frontends_.find(std::string(config::to_string(frontend)));
  return it == frontends_.end() ? TrafficTotals{} : it->second;
}

std::map<std::string, TrafficTotals> Stats::route_totals() const {
  std::lock_guard lock(mutex_);
  return routes_;
}

std::map<std::string, std::uint64_t> Stats::handshake_errors() const {
  std::lock_guard lock(mutex_);
  return handshake_errors_;
}

} // namespace hopgate::admin
