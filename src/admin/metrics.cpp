#include "hopgate/admin/metrics.hpp"

#include "hopgate/dns/resolver.hpp"
#include "hopgate/observe/udp_counters.hpp"
#include "hopgate/upstream/health.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <spdlog/fmt/fmt.h>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace hopgate::admin {
namespace {

using Labels = std::vector<std::pair<std::string_view, std::string>>;

/// Writes one metric family at a time: HELP and TYPE first, then its samples (the format wants
/// a family's samples together).
class Writer {
public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, const Labels& labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      bool first = true;
      for (auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += fmt::format("{}=\"{}\"", k, escape_label_value(v));
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
  }
  void sample(std::string_view name, const Labels& labels, std::uint64_t value) {
    sample(name, labels, static_cast<double>(value));
  }
  std::string take() { return std::move(out_); }

  static std::string number(double v) {
    if (v == static_cast<double>(static_cast<std::int64_t>(v)) && v < 9.007199254740992e15 && v > -9.007199254740992e15)
      return std::to_string(static_cast<std::int64_t>(v));
    return fmt::format("{}", v);
  }

private:
  std::string out_;
};

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

ProcessInfo read_process_info() {
  ProcessInfo p;
  std::error_code ec;
  std::uint64_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++fds;
  // The directory handle the listing itself holds is not one of ours.
  if (!ec && fds > 0) p.open_fds = fds - 1;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) p.max_fds = rl.rlim_cur;

  // /proc/self/stat: the fields after the command name (which may hold spaces) are space separated;
  // utime is field 14, stime 15, starttime 22, vsize 23, rss 24 (man 5 proc).
  if (auto stat = read_file("/proc/self/stat")) {
    auto close = stat->rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(stat->substr(close + 2));
      std::vector<std::string> f;
      std::string x;
      while (in >> x) f.push_back(x);
      // f[0] is field 3 (state).
      auto field = [&](int n) -> std::optional<double> {
        std::size_t i = static_cast<std::size_t>(n - 3);
        if (i >= f.size()) return std::nullopt;
        try {
          return std::stod(f[i]);
        } catch (...) {
          return std::nullopt;
        }
      };
      double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      long page = sysconf(_SC_PAGESIZE);
      auto ut = field(14), st = field(15), start = field(22), vsize = field(23), rss = field(24);
      if (ut && st && ticks > 0) p.cpu_seconds = (*ut + *st) / ticks;
      if (vsize) p.virtual_bytes = static_cast<std::uint64_t>(*vsize);
      if (rss && page > 0) p.resident_bytes = static_cast<std::uint64_t>(*rss) * static_cast<std::uint64_t>(page);
      if (start && ticks > 0)
        if (auto s = read_file("/proc/stat")) {
          auto pos = s->find("\nbtime ");
          if (pos != std::string::npos) p.start_time_seconds = std::stod(s->substr(pos + 7)) + *start / ticks;
        }
    }
  }
  return p;
}

std::string render_metrics(const Sources& shared, const Control& control, Clock::time_point now) {
  auto s = shared.stats.snapshot();
  auto snapshot = shared.current();
  Writer w;

  w.family("hopgate_build_info", "gauge", "Version of the running hopgate.");
  w.sample("hopgate_build_info", {{"version", HOPGATE_VERSION}}, 1.0);
  w.family("hopgate_uptime_seconds", "gauge", "Seconds since hopgate started.");
  w.sample("hopgate_uptime_seconds", {}, std::chrono::duration<double>(now - control.started()).count());
  w.family("hopgate_config_generation", "gauge", "Generation of the running config (1 at start, +1 per applied change).");
  w.sample("hopgate_config_generation", {}, snapshot->generation);
  w.family("hopgate_ready", "gauge", "1 when listeners are bound, the config is loaded and hopgate is not draining.");
  w.sample("hopgate_ready", {}, control.ready() && !shared.draining.load() ? 1.0 : 0.0);
  w.family("hopgate_listener_info", "gauge", "Bound listener addresses.");
  for (auto& l : control.listeners()) w.sample("hopgate_listener_info", {{"name", l.name}, {"address", l.address}}, 1.0);

  w.family("hopgate_connections_opened_total", "counter", "Client connections that sent a first byte, by front end.");
  for (auto& [fe, t] : s.frontends) w.sample("hopgate_connections_opened_total", {{"frontend", fe}}, t.connections);
  w.family("hopgate_connections_active", "gauge", "Client connections open now, by front end.");
  for (auto fe : {"http", "socks"}) {
    auto it = s.frontends.find(fe);
    w.sample("hopgate_connections_active", {{"frontend", fe}}, it == s.frontends.end() ? 0 : it->second.active);
  }
  w.family("hopgate_connections_total", "counter",
           "Closed client connections by front end, route (\"none\" when it never got one) and result.");
  for (auto& [key, n] : s.connections)
    w.sample("hopgate_connections_total",
             {{"frontend", std::get<0>(key)}, {"route", std::get<1>(key)}, {"result", std::get<2>(key)}}, n);

  // Active connections per route come from the registry: a route is known once routing is done.
  std::map<std::string, std::uint64_t> active_routes;
  for (auto& r : snapshot->config->routes) active_routes[r.name] = 0;
  active_routes["default"] = 0;
  for (auto& c : shared.registry.list()) {
    std::lock_guard lock(c->mutex);
    if (!c->route.empty()) ++active_routes[c->route];
  }
  w.family("hopgate_route_connections_active", "gauge", "Routed client connections open now, by route.");
  for (auto& [route, n] : active_routes) w.sample("hopgate_route_connections_active", {{"route", route}}, n);

  w.family("hopgate_bytes_total", "counter",
           "Bytes relayed by closed connections, by direction (up: client to target) and route.");
  for (auto& [route, t] : s.routes) {
    w.sample("hopgate_bytes_total", {{"direction", "up"}, {"route", route}}, t.bytes_up);
    w.sample("hopgate_bytes_total", {{"direction", "down"}, {"route", route}}, t.bytes_down);
  }
  w.family("hopgate_frontend_bytes_total", "counter", "Bytes relayed by closed connections, by direction and front end.");
  for (auto& [fe, t] : s.frontends) {
    w.sample("hopgate_frontend_bytes_total", {{"direction", "up"}, {"frontend", fe}}, t.bytes_up);
    w.sample("hopgate_frontend_bytes_total", {{"direction", "down"}, {"frontend", fe}}, t.bytes_down);
  }

  w.family("hopgate_dial_duration_seconds", "histogram",
           "Time to connect along a route, by upstream (the route's via: \"direct\", an upstream, a chain or a group).");
  for (auto& [up, h] : s.dials) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < observe::DialHistogram::bounds.size(); ++i) {
      cumulative += h.buckets[i];
      w.sample("hopgate_dial_duration_seconds_bucket", {{"upstream", up}, {"le", Writer::number(observe::DialHistogram::bounds[i])}},
               cumulative);
    }
    w.sample("hopgate_dial_duration_seconds_bucket", {{"upstream", up}, {"le", "+Inf"}}, h.count);
    w.sample("hopgate_dial_duration_seconds_sum", {{"upstream", up}}, h.sum);
    w.sample("hopgate_dial_duration_seconds_count", {{"upstream", up}}, h.count);
  }
  w.family("hopgate_dial_failures_total", "counter", "Dials that failed, by upstream.");
  for (auto& [up, h] : s.dials) w.sample("hopgate_dial_failures_total", {{"upstream", up}}, h.failures);

  w.family("hopgate_handshake_errors_total", "counter", "Client handshakes that failed before routing, by front end and kind.");
  for (auto& [key, n] : s.handshake_errors) {
    auto colon = key.find(':');
    w.sample("hopgate_handshake_errors_total", {{"frontend", key.substr(0, colon)}, {"kind", key.substr(colon + 1)}}, n);
  }

  w.family("hopgate_dns_lookups_total", "counter", "Local DNS lookups made by hopgate.");
  w.sample("hopgate_dns_lookups_total", {}, dns::Resolver::lookups_total());
  w.family("hopgate_route_dns_lookups_total", "counter", "Local DNS lookups made for requests of a route.");
  for (auto& [route, n] : s.route_dns_lookups) w.sample("hopgate_route_dns_lookups_total", {{"route", route}}, n);

  w.family("hopgate_reloads_total", "counter",
           "Config changes asked for, by source (signal, reload, routes) and outcome (ok, error).");
  for (auto& [key, n] : s.reloads) w.sample("hopgate_reloads_total", {{"source", key.first}, {"outcome", key.second}}, n);

  w.family("hopgate_admin_refused_total", "counter",
           "Admin API requests refused as coming from a web page, by reason (host: a Host that is not an IP "
           "literal, localhost or in listeners.admin.hosts; cross_site: an Origin or Sec-Fetch-Site from another origin).");
  for (std::string_view reason : {"host", "cross_site"}) {
    auto it = s.admin_refused.find(std::string(reason));
    w.sample("hopgate_admin_refused_total", {{"reason", std::string(reason)}}, it == s.admin_refused.end() ? 0 : it->second);
  }

  // Upstream health (passive and active checks) from the dialer's health table.
  auto health = upstream::Health::instance().view();
  w.family("hopgate_upstream_up", "gauge", "1 when the upstream is considered healthy, 0 while it is marked down.");
  for (auto& h : health) w.sample("hopgate_upstream_up", {{"upstream", h.name}}, h.up ? 1.0 : 0.0);
  w.family("hopgate_upstream_active_connections", "gauge", "Connections currently open through the upstream.");
  for (auto& h : health) w.sample("hopgate_upstream_active_connections", {{"upstream", h.name}}, h.active);
  w.family("hopgate_upstream_health_failures_total", "counter", "Hop-side failures counted against the upstream.");
  for (auto& h : health) w.sample("hopgate_upstream_health_failures_total", {{"upstream", h.name}}, h.failures);

  // SOCKS5 UDP ASSOCIATE relay.
  const auto& u = observe::udp_counters();
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  w.family("hopgate_udp_associations_active", "gauge", "Open UDP associations.");
  w.sample("hopgate_udp_associations_active", {}, load(u.associations_active));
  w.family("hopgate_udp_associations_total", "counter", "UDP associations granted.");
  w.sample("hopgate_udp_associations_total", {}, load(u.associations_total));
  w.family("hopgate_udp_associations_refused_total", "counter", "UDP associations refused (limits, no route carries UDP).");
  w.sample("hopgate_udp_associations_refused_total", {}, load(u.associations_refused));
  w.family("hopgate_udp_datagrams_total", "counter", "Datagrams relayed, by direction.");
  w.sample("hopgate_udp_datagrams_total", {{"direction", "up"}}, load(u.datagrams_in));
  w.sample("hopgate_udp_datagrams_total", {{"direction", "down"}}, load(u.datagrams_out));
  w.family("hopgate_udp_bytes_total", "counter", "UDP payload bytes relayed, by direction.");
  w.sample("hopgate_udp_bytes_total", {{"direction", "up"}}, load(u.bytes_in));
  w.sample("hopgate_udp_bytes_total", {{"direction", "down"}}, load(u.bytes_out));
  w.family("hopgate_udp_dropped_total", "counter", "Datagrams dropped, by reason.");
  w.sample("hopgate_udp_dropped_total", {{"reason", "foreign"}}, load(u.dropped_foreign));
  w.sample("hopgate_udp_dropped_total", {{"reason", "malformed"}}, load(u.dropped_malformed));
  w.sample("hopgate_udp_dropped_total", {{"reason", "fragment"}}, load(u.dropped_fragment));
  w.sample("hopgate_udp_dropped_total", {{"reason", "too_big"}}, load(u.dropped_too_big));
  w.sample("hopgate_udp_dropped_total", {{"reason", "no_route"}}, load(u.dropped_no_route));
  w.sample("hopgate_udp_dropped_total", {{"reason", "unresolved"}}, load(u.dropped_unresolved));
  w.sample("hopgate_udp_dropped_total", {{"reason", "upstream"}}, load(u.dropped_upstream));
  w.sample("hopgate_udp_dropped_total", {{"reason", "send_error"}}, load(u.dropped_send_error));

  auto p = read_process_info();
  if (p.open_fds) {
    w.family("process_open_fds", "gauge", "Number of open file descriptors.");
    w.sample("process_open_fds", {}, *p.open_fds);
  }
  if (p.max_fds) {
    w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    w.sample("process_max_fds", {}, *p.max_fds);
  }
  if (p.resident_bytes) {
    w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    w.sample("process_resident_memory_bytes", {}, *p.resident_bytes);
  }
  if (p.virtual_bytes) {
    w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    w.sample("process_virtual_memory_bytes", {}, *p.virtual_bytes);
  }
  if (p.cpu_seconds) {
    w.family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
    w.sample("process_cpu_seconds_total", {}, *p.cpu_seconds);
  }
  if (p.start_time_seconds) {
    w.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
    w.sample("process_start_time_seconds", {}, *p.start_time_seconds);
  }
  return w.take();
}

} // namespace hopgate::admin
