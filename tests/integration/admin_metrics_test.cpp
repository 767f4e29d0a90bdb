// GET /metrics against the real binary: the text must parse under the Prometheus exposition
// format 0.0.4 rules (checked by a small parser written here), and its counters must equal the
// traffic this test sent through hopgate.
#include "support/curl.hpp"
#include "support/eventually.hpp"
#include "support/hopgate_process.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/socks_wire.hpp"

#include <gtest/gtest.h>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

using namespace hopgate::test;
using nlohmann::json;

namespace {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

struct Family {
  std::string type = "untyped";
  std::string help;
  std::vector<Sample> samples;
};

/// A parsed exposition plus every rule it broke.
struct Exposition {
  std::map<std::string, Family> families;
  std::vector<std::string> errors;

  /// The value of one series, if present.
  std::optional<double> value(const std::string& name, const Labels& labels = {}) const {
    for (auto& [fname, f] : families)
      for (auto& s : f.samples)
        if (s.name == name && s.labels == labels) return s.value;
    return std::nullopt;
  }
  double get(const std::string& name, const Labels& labels = {}) const {
    auto v = value(name, labels);
    if (!v) {
      std::string l;
      for (auto& [k, x] : labels) l += k + "=" + x + " ";
      ADD_FAILURE() << "no series " << name << " {" << l << "}";
    }
    return v.value_or(-1);
  }
};

/// Parses the Prometheus text format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/)
/// strictly: comment lines, metric and label names, label value escapes, float values, TYPE before
/// samples, one block per family, no duplicate series, histogram consistency.
Exposition parse_prometheus(const std::string& text) {
  Exposition out;
  auto error = [&](std::size_t line, const std::string& what) {
    out.errors.push_back("line " + std::to_string(line) + ": " + what);
  };
  static const std::regex metric_name("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_name("[a-zA-Z_][a-zA-Z0-9_]*");
  static const std::set<std::string> types{"counter", "gauge", "histogram", "summary", "untyped"};

  if (!text.empty() && text.back() != '\n') error(0, "the last line does not end with a line feed");
  std::set<std::string> closed;   // families whose block has ended
  std::string current;            // family of the last sample or comment
  std::set<std::string> seen_series;
  std::istringstream in(text);
  std::string line;
  std::size_t n = 0;

  // The family a sample belongs to: itself, or a histogram/summary's _bucket/_sum/_count.
  auto family_of = [&](const std::string& sample) {
    for (std::string suffix : {"_bucket", "_sum", "_count"})
      if (sample.size() > suffix.size() && sample.ends_with(suffix)) {
        auto base = sample.substr(0, sample.size() - suffix.size());
        auto it = out.families.find(base);
        if (it != out.families.end() && (it->second.type == "histogram" || it->second.type == "summary")) return base;
      }
    return sample;
  };
  auto enter = [&](const std::string& family, std::size_t ln) {
    if (family == current) return;
    if (!current.empty()) closed.insert(current);
    if (closed.count(family)) error(ln, "family " + family + " appears in two separate blocks");
    current = family;
  };

  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream c(line.substr(1));
      std::string keyword, name;
      c >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") continue; // a plain comment
      if (!std::regex_match(name, metric_name)) error(n, "bad metric name in " + keyword + ": " + name);
      std::string rest;
      std::getline(c, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      auto& f = out.families[name];
      enter(name, n);
      if (keyword == "TYPE") {
        if (!types.count(rest)) error(n, "unknown type " + rest);
        if (!f.samples.empty()) error(n, "TYPE after samples of " + name);
        f.type = rest;
      } else {
        if (!f.help.empty()) error(n, "second HELP for " + name);
        f.help = rest;
      }
      continue;
    }
    // name{labels} value [timestamp]
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    Sample s;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, metric_name)) error(n, "bad metric name " + s.name);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        auto eq = line.find('=', i);
        if (eq == std::string::npos) {
          error(n, "label without '='");
          break;
        }
        std::string lname = line.substr(i, eq - i);
        if (!std::regex_match(lname, label_name)) error(n, "bad label name " + lname);
        if (eq + 1 >= line.size() || line[eq + 1] != '"') {
          error(n, "label value not quoted");
          break;
        }
        std::string value;
        std::size_t j = eq + 2;
        bool closed_quote = false;
        for (; j < line.size(); ++j) {
          if (line[j] == '\\') {
            if (j + 1 >= line.size()) break;
            char e = line[++j];
            if (e == 'n') value += '\n';
            else if (e == '\\' || e == '"') value += e;
            else error(n, std::string("bad escape \\") + e);
          } else if (line[j] == '"') {
            closed_quote = true;
            break;
          } else {
            value += line[j];
          }
        }
        if (!closed_quote) {
          error(n, "unterminated label value");
          break;
        }
        if (s.labels.count(lname)) error(n, "label " + lname + " twice");
        s.labels[lname] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size() || line[i] != '}') error(n, "labels not closed");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      error(n, "no value");
      continue;
    }
    std::istringstream v(line.substr(i + 1));
    std::string value_text, timestamp;
    v >> value_text >> timestamp;
    if (value_text == "+Inf" || value_text == "Inf") s.value = INFINITY;
    else if (value_text == "-Inf") s.value = -INFINITY;
    else if (value_text == "NaN") s.value = NAN;
    else {
      std::size_t used = 0;
      try {
        s.value = std::stod(value_text, &used);
      } catch (...) {
        used = 0;
      }
      if (used == 0 || used != value_text.size()) error(n, "bad value " + value_text);
    }
    if (!timestamp.empty() && !std::regex_match(timestamp, std::regex("-?[0-9]+"))) error(n, "bad timestamp " + timestamp);
    auto family = family_of(s.name);
    enter(family, n);
    auto& f = out.families[family];
    std::string key = s.name + "{";
    for (auto& [k, x] : s.labels) key += k + "=" + x + ",";
    if (!seen_series.insert(key).second) error(n, "duplicate series " + key + "}");
    if (f.type == "counter" && !(s.value >= 0)) error(n, "negative counter " + s.name);
    if (f.type == "histogram" && s.name == family) error(n, "histogram sample without _bucket/_sum/_count");
    f.samples.push_back(std::move(s));
  }

  // Histograms: per label set (without le), cumulative buckets ending in +Inf == _count.
  for (auto& [name, f] : out.families) {
    if (f.type != "histogram") continue;
    std::map<Labels, std::vector<std::pair<double, double>>> buckets;
    std::map<Labels, double> counts;
    for (auto& s : f.samples) {
      Labels base = s.labels;
      if (s.name == name + "_bucket") {
        if (!base.count("le")) {
          out.errors.push_back(name + ": bucket without le");
          continue;
        }
        double le = base["le"] == "+Inf" ? INFINITY : std::stod(base["le"]);
        base.erase("le");
        buckets[base].push_back({le, s.value});
      } else if (s.name == name + "_count") {
        counts[base] = s.value;
      }
    }
    for (auto& [labels, list] : buckets) {
      for (std::size_t i = 1; i < list.size(); ++i) {
        if (!(list[i].first > list[i - 1].first)) out.errors.push_back(name + ": le not increasing");
        if (list[i].second < list[i - 1].second) out.errors.push_back(name + ": buckets not cumulative");
      }
      if (list.empty() || !std::isinf(list.back().first)) out.errors.push_back(name + ": no +Inf bucket");
      else if (!counts.count(labels) || counts[labels] != list.back().second)
        out.errors.push_back(name + ": +Inf bucket differs from _count");
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += s + "\n";
  return out;
}

Exposition scrape(const HopgateProcess& hg, std::string* raw = nullptr) {
  auto r = run_curl({"-i", "http://" + hg.address("admin") + "/metrics"});
  EXPECT_TRUE(r.ok()) << r.describe();
  auto end = r.out.find("\r\n\r\n");
  std::string head = r.out.substr(0, end), body = end == std::string::npos ? "" : r.out.substr(end + 4);
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << head;
  if (raw) *raw = body;
  auto e = parse_prometheus(body);
  EXPECT_TRUE(e.errors.empty()) << joined(e.errors) << "\n" << body;
  return e;
}

} // namespace

TEST(AdminMetricsParser, RejectsWhatPrometheusRejects) {
  EXPECT_TRUE(parse_prometheus("# TYPE a counter\na 1\na{x=\"y\\\"z\\n\"} 2.5e3\n").errors.empty());
  EXPECT_FALSE(parse_prometheus("a 1").errors.empty());                              // no final line feed
  EXPECT_FALSE(parse_prometheus("1a 1\n").errors.empty());                           // bad name
  EXPECT_FALSE(parse_prometheus("a{x=y} 1\n").errors.empty());                       // unquoted value
  EXPECT_FALSE(parse_prometheus("a{x=\"\\t\"} 1\n").errors.empty());                 // bad escape
  EXPECT_FALSE(parse_prometheus("a one\n").errors.empty());                          // bad value
  EXPECT_FALSE(parse_prometheus("a 1\na 2\n").errors.empty());                       // duplicate series
  EXPECT_FALSE(parse_prometheus("a 1\nb 1\na{x=\"1\"} 1\n").errors.empty());         // split family
  EXPECT_FALSE(parse_prometheus("a 1\n# TYPE a counter\n").errors.empty());          // TYPE after samples
  EXPECT_FALSE(parse_prometheus("# TYPE a counter\na -1\n").errors.empty());         // negative counter
  EXPECT_FALSE(parse_prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n")
                   .errors.empty()); // not cumulative
  EXPECT_FALSE(parse_prometheus("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\nh_sum 1\n").errors.empty());
}

TEST(AdminMetrics, ParseAndEqualTheTrafficSent) {
  TcpEcho echo;
  HttpOrigin origin;
  json cfg = json::parse(R"({
    "listeners": {
      "http": { "listen": ["127.0.0.1:0"] },
      "socks": { "listen": ["127.0.0.1:0"] },
      "admin": { "listen": ["127.0.0.1:0"] }
    },
    "routes": [
      { "name": "echo", "match": { "cidr": ["127.0.0.1/32"] }, "via": "direct" },
      { "name": "origin", "match": { "domain": ["localhost"] }, "via": "direct" },
      { "name": "blocked \"quoted\" route", "match": { "domain": ["blocked.example"] }, "via": "block" }
    ],
    "default": { "via": "block" }
  })");
  cfg["routes"][0]["match"]["port"] = json::array({echo.port()});
  HopgateProcess hg(cfg);

  // Before any traffic the exposition parses and holds the process metrics.
  auto before = scrape(hg);
  EXPECT_GT(before.get("process_open_fds"), 0);
  EXPECT_GT(before.get("process_resident_memory_bytes"), 1e6);
  EXPECT_GT(before.get("process_max_fds"), 0);
  EXPECT_EQ(before.get("hopgate_config_generation"), 1);
  EXPECT_EQ(before.get("hopgate_build_info", {{"version", HOPGATE_VERSION}}), 1);
  EXPECT_EQ(before.get("hopgate_connections_active", {{"frontend", "socks"}}), 0);

  // 5 echo tunnels of known sizes.
  std::uint64_t echo_bytes = 0;
  for (std::size_t size : {1u, 100u, 1000u, 10000u, 100000u}) {
    auto fd = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
    std::string data(size, 'e');
    ASSERT_TRUE(send_all(fd, data));
    auto back = recv_exact(fd, size);
    ASSERT_TRUE(back && back->size() == size);
    shutdown_write(fd);
    ASSERT_TRUE(wait_closed(fd));
    echo_bytes += size;
  }
  // 3 HTTP downloads over SOCKS5 with the name resolved by hopgate: curl reports the exact
  // bytes it sent and received.
  std::uint64_t origin_up = 0, origin_down = 0;
  for (int size : {10, 5000, 70000}) {
    auto r = run_curl({"--socks5-hostname", "127.0.0.1:" + std::to_string(hg.port("socks")), "-o", "/dev/null", "-w",
                       "%{size_request} %{size_header} %{size_download}",
                       "http://localhost:" + std::to_string(origin.port()) + "/bytes/" + std::to_string(size)});
    ASSERT_TRUE(r.ok()) << r.describe();
    std::istringstream w(r.out);
    std::uint64_t req = 0, head = 0, body = 0;
    w >> req >> head >> body;
    ASSERT_EQ(body, static_cast<std::uint64_t>(size));
    origin_up += req;
    origin_down += head + body;
  }
  // 2 blocked requests and 1 handshake with a wrong version byte.
  EXPECT_THROW(socks::connect5(hg.port("socks"), "blocked.example", 443), std::runtime_error);
  EXPECT_THROW(socks::connect5(hg.port("socks"), "blocked.example", 80), std::runtime_error);
  {
    auto fd = connect_tcp("127.0.0.1", hg.port("socks"));
    ASSERT_TRUE(send_all(fd, bytes_of({0x47})));
    EXPECT_TRUE(wait_closed(fd));
  }
  // One good reload and one refused config change.
  {
    auto ok = run_curl({"-X", "POST", "http://" + hg.address("admin") + "/api/v1/reload"});
    ASSERT_TRUE(ok.ok());
    auto bad = run_curl({"-X", "PUT", "-H", "Content-Type: application/json", "--data-binary", R"({"routes": [{"via": 1}]})",
                         "http://" + hg.address("admin") + "/api/v1/routes"});
    ASSERT_TRUE(bad.ok());
  }

  // Counts land at close: wait until every connection is closed.
  ASSERT_TRUE(eventually([&] {
    auto e = parse_prometheus(run_curl({"http://" + hg.address("admin") + "/metrics"}).out);
    return e.value("hopgate_connections_active", {{"frontend", "socks"}}) == 0.0;
  }));
  std::string raw;
  auto m = scrape(hg, &raw);
  SCOPED_TRACE(raw);

  const std::string blocked = "blocked \"quoted\" route";
  EXPECT_EQ(m.get("hopgate_connections_opened_total", {{"frontend", "socks"}}), 11);
  EXPECT_EQ(m.get("hopgate_connections_active", {{"frontend", "socks"}}), 0);
  EXPECT_EQ(m.get("hopgate_connections_total", {{"frontend", "socks"}, {"route", "echo"}, {"result", "ok"}}), 5);
  EXPECT_EQ(m.get("hopgate_connections_total", {{"frontend", "socks"}, {"route", "origin"}, {"result", "ok"}}), 3);
  EXPECT_EQ(m.get("hopgate_connections_total", {{"frontend", "socks"}, {"route", blocked}, {"result", "blocked by rule"}}), 2);
  EXPECT_EQ(m.get("hopgate_connections_total", {{"frontend", "socks"}, {"route", "none"}, {"result", "ok"}}), 1);
  EXPECT_EQ(m.get("hopgate_route_connections_active", {{"route", "echo"}}), 0);

  EXPECT_EQ(m.get("hopgate_bytes_total", {{"direction", "up"}, {"route", "echo"}}), echo_bytes);
  EXPECT_EQ(m.get("hopgate_bytes_total", {{"direction", "down"}, {"route", "echo"}}), echo_bytes);
  EXPECT_EQ(m.get("hopgate_bytes_total", {{"direction", "up"}, {"route", "origin"}}), origin_up);
  EXPECT_EQ(m.get("hopgate_bytes_total", {{"direction", "down"}, {"route", "origin"}}), origin_down);
  EXPECT_EQ(m.get("hopgate_bytes_total", {{"direction", "up"}, {"route", blocked}}), 0);
  EXPECT_EQ(m.get("hopgate_frontend_bytes_total", {{"direction", "up"}, {"frontend", "socks"}}), echo_bytes + origin_up);
  EXPECT_EQ(m.get("hopgate_frontend_bytes_total", {{"direction", "down"}, {"frontend", "socks"}}), echo_bytes + origin_down);

  // 8 dials, all direct, none failed; blocked requests never dial.
  EXPECT_EQ(m.get("hopgate_dial_duration_seconds_count", {{"upstream", "direct"}}), 8);
  EXPECT_EQ(m.get("hopgate_dial_duration_seconds_bucket", {{"upstream", "direct"}, {"le", "+Inf"}}), 8);
  EXPECT_GT(m.get("hopgate_dial_duration_seconds_sum", {{"upstream", "direct"}}), 0);
  EXPECT_EQ(m.get("hopgate_dial_failures_total", {{"upstream", "direct"}}), 0);
  EXPECT_EQ(m.families["hopgate_dial_duration_seconds"].type, "histogram");

  EXPECT_EQ(m.get("hopgate_handshake_errors_total", {{"frontend", "socks"}, {"kind", "bad version"}}), 1);
  // Local lookups: one per download ("localhost" on a direct route), none for IP targets.
  EXPECT_EQ(m.get("hopgate_route_dns_lookups_total", {{"route", "origin"}}), 3);
  EXPECT_EQ(m.get("hopgate_route_dns_lookups_total", {{"route", "echo"}}), 0);
  EXPECT_GE(m.get("hopgate_dns_lookups_total"), 3);

  EXPECT_EQ(m.get("hopgate_reloads_total", {{"source", "reload"}, {"outcome", "ok"}}), 1);
  EXPECT_EQ(m.get("hopgate_reloads_total", {{"source", "routes"}, {"outcome", "error"}}), 1);
  EXPECT_EQ(m.get("hopgate_config_generation"), 2);
  EXPECT_EQ(m.get("hopgate_ready"), 1);
  EXPECT_GE(m.get("process_cpu_seconds_total"), 0); // clock ticks: a short run may still show 0
  EXPECT_GT(m.get("process_start_time_seconds"), 1.6e9);

  // Every family is typed and documented.
  for (auto& [name, f] : m.families) {
    EXPECT_NE(f.type, "untyped") << name;
    EXPECT_FALSE(f.help.empty()) << name;
  }
}
