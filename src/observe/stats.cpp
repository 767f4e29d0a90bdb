#include "hopgate/observe/stats.hpp"

#include <algorithm>

namespace hopgate::observe {
namespace {

std::string result_kind(ProxyError result) { return result == ProxyError::ok ? "ok" : error_code(result).message(); }

void add_close(TrafficTotals& t, std::uint64_t up, std::uint64_t down, const std::string& kind, bool failed) {
  t.bytes_up += up;
  t.bytes_down += down;
  ++t.results[kind];
  if (failed) {
    ++t.errors;
    ++t.errors_by_kind[kind];
  }
}

} // namespace

RateWindow::Totals RateWindow::rates(Clock::time_point now, const Totals& totals, Clock::time_point origin) {
  std::lock_guard lock(mutex_);
  // Forget samples that left the window, but keep the newest one so that a client polling less
  // often than the window still gets the rate since its previous poll.
  while (samples_.size() > 1 && now - samples_[1].first >= window_) samples_.pop_front();
  Clock::time_point base_time = origin;
  const Totals* base = nullptr;
  if (!samples_.empty() && now - samples_.front().first > std::chrono::milliseconds(500)) {
    base_time = samples_.front().first;
    base = &samples_.front().second;
  }
  double seconds = std::chrono::duration<double>(now - base_time).count();
  Totals out;
  for (auto& [key, value] : totals) {
    double before = 0;
    if (base)
      if (auto it = base->find(key); it != base->end()) before = it->second;
    // Totals that include live tunnels can step back by a few bytes around a close: never negative.
    out[key] = seconds > 0 ? std::max(0.0, value - before) / seconds : 0.0;
  }
  if (samples_.empty() || now - samples_.back().first >= std::chrono::seconds(1)) samples_.emplace_back(now, totals);
  return out;
}

void Stats::on_open(config::Protocol frontend) {
  std::lock_guard lock(mutex_);
  auto& t = s_.frontends[std::string(config::to_string(frontend))];
  ++t.connections;
  ++t.active;
}

void Stats::on_close(config::Protocol frontend, const std::string& route, std::uint64_t up, std::uint64_t down,
                     ProxyError result) {
  std::string kind = result_kind(result);
  bool failed = result != ProxyError::ok;
  std::string fe(config::to_string(frontend));
  std::lock_guard lock(mutex_);
  auto& f = s_.frontends[fe];
  if (f.active) --f.active;
  add_close(f, up, down, kind, failed);
  ++s_.connections[{fe, route.empty() ? std::string("none") : route, kind}];
  if (route.empty()) return;
  auto& r = s_.routes[route];
  ++r.connections;
  add_close(r, up, down, kind, failed);
}

void Stats::on_handshake_error(config::Protocol frontend, std::string_view kind) {
  std::lock_guard lock(mutex_);
  ++s_.handshake_errors[std::string(config::to_string(frontend)) + ":" + std::string(kind)];
}

void Stats::on_dial(const std::string& upstream, Clock::duration took, bool ok) {
  double seconds = std::chrono::duration<double>(took).count();
  std::lock_guard lock(mutex_);
  auto& h = s_.dials[upstream];
  auto at = std::lower_bound(DialHistogram::bounds.begin(), DialHistogram::bounds.end(), seconds);
  if (at != DialHistogram::bounds.end()) ++h.buckets[static_cast<std::size_t>(at - DialHistogram::bounds.begin())];
  ++h.count;
  h.sum += seconds;
  if (!ok) ++h.failures;
}

void Stats::on_local_lookups(const std::string& route, unsigned lookups) {
  std::lock_guard lock(mutex_);
  // Create the entry even for zero so that every route that saw traffic shows its count.
  s_.route_dns_lookups[route] += lookups;
}

void Stats::on_reload(std::string_view source, bool ok) {
  std::lock_guard lock(mutex_);
  ++s_.reloads[{std::string(source), ok ? "ok" : "error"}];
}

void Stats::on_admin_refused(std::string_view reason) {
  std::lock_guard lock(mutex_);
  ++s_.admin_refused[std::string(reason)];
}

TrafficTotals Stats::frontend_totals(config::Protocol frontend) const {
  std::lock_guard lock(mutex_);
  auto it = s_.frontends.find(std::string(config::to_string(frontend)));
  return it == s_.frontends.end() ? TrafficTotals{} : it->second;
}

std::map<std::string, TrafficTotals> Stats::route_totals() const {
  std::lock_guard lock(mutex_);
  return s_.routes;
}

std::map<std::string, std::uint64_t> Stats::handshake_errors() const {
  std::lock_guard lock(mutex_);
  return s_.handshake_errors;
}

StatsSnapshot Stats::snapshot() const {
  std::lock_guard lock(mutex_);
  return s_;
}

} // namespace hopgate::observe
