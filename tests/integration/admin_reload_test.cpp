// Hot reload through the admin API and SIGHUP against the real binary: a broken config is refused
// with every error and its path while the old routes keep serving; PUT /api/v1/routes swaps the
// rule list atomically; 200 tunnels keep passing checksummed data across 20 reloads; listeners
// whose addresses change are re-bound without closing the others.
#include "support/curl.hpp"
#include "support/eventually.hpp"
#include "support/hopgate_process.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/sha256.hpp"
#include "support/socks_wire.hpp"
#include "support/tempdir.hpp"

#include <gtest/gtest.h>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <thread>

using namespace hopgate::test;
using nlohmann::json;

namespace {

struct Reply {
  int status = 0;
  std::string body;
  std::string etag;
  std::string raw;
  json parsed() const {
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "not JSON: " << raw;
    return j;
  }
};

/// curl -i output -> status, ETag and body.
Reply parse_reply(const CurlResult& r) {
  Reply out;
  out.raw = r.describe() + "\n" + r.out;
  auto end = r.out.find("\r\n\r\n");
  if (!r.out.starts_with("HTTP/") || end == std::string::npos) return out;
  out.status = std::stoi(r.out.substr(r.out.find(' ') + 1, 3));
  std::smatch m;
  std::string head = r.out.substr(0, end);
  if (std::regex_search(head, m, std::regex("\r\n[Ee][Tt][Aa][Gg]: *([^\r\n]*)"))) out.etag = m[1];
  out.body = r.out.substr(end + 4);
  return out;
}

Reply admin_call(const HopgateProcess& hg, const std::string& method, const std::string& path,
                 std::optional<json> body = std::nullopt, std::vector<std::string> headers = {}) {
  std::vector<std::string> args{"-i", "-X", method, "-H", "Expect:"};
  if (body) {
    args.insert(args.end(), {"-H", "Content-Type: application/json", "--data-binary", body->dump()});
  }
  for (auto& h : headers) args.insert(args.end(), {"-H", h});
  args.push_back("http://" + hg.address("admin") + path);
  auto r = run_curl(args);
  EXPECT_TRUE(r.ok()) << r.describe();
  return parse_reply(r);
}

json admin_json(const HopgateProcess& hg, const std::string& path) {
  auto r = admin_call(hg, "GET", path);
  EXPECT_EQ(r.status, 200) << r.raw;
  return r.parsed();
}

std::string config_file_of(HopgateProcess& hg) {
  const auto& argv = hg.process().argv();
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == "--config") return argv[i + 1];
  ADD_FAILURE() << "no --config in " << hg.process().command_line();
  return {};
}

/// Replaces the config file in one step (a reader never sees half a file).
void write_config(const std::string& path, const std::string& text) {
  auto tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, path);
}

bool echo_roundtrip(const Fd& fd, std::string_view text) {
  if (!send_all(fd, text)) return false;
  auto got = recv_exact(fd, text.size());
  return got && std::string(got->begin(), got->end()) == text;
}

/// Loopback listeners on free ports; `echo` routes the echo server by name, the rest is direct.
json base_config(std::uint16_t echo_port, const std::string& echo_route = "echo") {
  json cfg = json::parse(R"({
    "listeners": {
      "http": { "listen": ["127.0.0.1:0"] },
      "socks": { "listen": ["127.0.0.1:0"] },
      "admin": { "listen": ["127.0.0.1:0"] }
    },
    "routes": [
      { "match": { "cidr": ["127.0.0.1/32"] }, "via": "direct" },
      { "name": "ads", "match": { "domain": ["ads.example"] }, "via": "block" }
    ],
    "default": { "via": "direct" },
    "timeouts": { "idle": 600, "shutdown_grace": 2 }
  })");
  cfg["routes"][0]["name"] = echo_route;
  cfg["routes"][0]["match"]["port"] = json::array({echo_port});
  return cfg;
}

/// The route name hopgate gives the newest connection to 127.0.0.1:port.
std::string route_of_newest(const HopgateProcess& hg, std::uint16_t port) {
  auto list = admin_json(hg, "/api/v1/connections?target=127.0.0.1:" + std::to_string(port) + "&limit=1000");
  if (list["connections"].empty()) return "";
  return list["connections"].back()["route"].get<std::string>();
}

} // namespace

TEST(AdminReload, BrokenReloadIsRefusedWithPathsAndOldRoutesServe) {
  TcpEcho echo;
  auto cfg = base_config(echo.port());
  HopgateProcess hg(cfg);
  auto file = config_file_of(hg);

  auto tunnel = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
  ASSERT_TRUE(echo_roundtrip(tunnel, "before"));

  // Three independent mistakes: every one is reported with its JSON path.
  json broken = cfg;
  broken["routes"][0]["via"] = "no-such-upstream";
  broken["routes"][1]["match"]["cidr"] = json::array({"10.0.0.0/33"});
  broken["routes"][1]["colour"] = "red";
  write_config(file, broken.dump(2));
  auto r = admin_call(hg, "POST", "/api/v1/reload");
  ASSERT_EQ(r.status, 422) << r.raw;
  auto err = r.parsed()["error"];
  EXPECT_EQ(err["code"], "invalid_config");
  std::map<std::string, std::string> paths;
  for (auto& d : err["details"]) paths[d["path"]] = d["message"];
  EXPECT_EQ(paths.size(), 3u) << r.body;
  EXPECT_TRUE(paths.count("/routes/0/via")) << r.body;
  EXPECT_TRUE(paths.count("/routes/1/match/cidr/0")) << r.body;
  EXPECT_TRUE(paths.count("/routes/1/colour")) << r.body;
  EXPECT_NE(paths["/routes/0/via"].find("no-such-upstream"), std::string::npos);

  // A syntax error is one error on the document.
  write_config(file, "{ \"listeners\": ");
  auto syntax = admin_call(hg, "POST", "/api/v1/reload");
  ASSERT_EQ(syntax.status, 422) << syntax.raw;
  EXPECT_EQ(syntax.parsed()["error"]["details"][0]["path"], "");
  EXPECT_NE(syntax.body.find("syntax error"), std::string::npos) << syntax.body;

  // SIGHUP with the broken file: refused too, logged.
  ASSERT_EQ(::kill(hg.pid(), SIGHUP), 0);
  EXPECT_TRUE(hg.process().wait_for_output("reload refused", 5s)) << hg.log();

  // The old config still runs: generation 1, the tunnel, new connections on the old routes.
  EXPECT_EQ(admin_json(hg, "/api/v1/routes")["generation"], 1);
  EXPECT_TRUE(echo_roundtrip(tunnel, "after the broken reloads"));
  {
    auto fresh = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
    EXPECT_TRUE(echo_roundtrip(fresh, "new connection"));
    EXPECT_EQ(route_of_newest(hg, echo.port()), "echo");
  }
  EXPECT_THROW(socks::connect5(hg.port("socks"), "ads.example", 80), std::runtime_error);

  // A good reload now applies; the open tunnel keeps its route, new ones take the new rule.
  json good = base_config(echo.port(), "echo-v2");
  write_config(file, good.dump(2));
  auto ok = admin_call(hg, "POST", "/api/v1/reload");
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.parsed()["generation"], 2);
  EXPECT_EQ(ok.parsed()["reloaded"], true);
  EXPECT_TRUE(echo_roundtrip(tunnel, "still the old route"));
  auto conns = admin_json(hg, "/api/v1/connections");
  ASSERT_EQ(conns["total"], 1) << conns.dump(2);
  EXPECT_EQ(conns["connections"][0]["route"], "echo");
  auto fresh = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
  EXPECT_TRUE(echo_roundtrip(fresh, "new route"));
  EXPECT_EQ(route_of_newest(hg, echo.port()), "echo-v2");

  // Metrics count each attempt by source and outcome.
  auto metrics = run_curl({"http://" + hg.address("admin") + "/metrics"});
  EXPECT_NE(metrics.out.find("hopgate_reloads_total{source=\"reload\",outcome=\"error\"} 2"), std::string::npos) << metrics.out;
  EXPECT_NE(metrics.out.find("hopgate_reloads_total{source=\"reload\",outcome=\"ok\"} 1"), std::string::npos);
  EXPECT_NE(metrics.out.find("hopgate_reloads_total{source=\"signal\",outcome=\"error\"} 1"), std::string::npos);
}

TEST(AdminReload, SighupAppliesTheFile) {
  TcpEcho echo;
  HopgateProcess hg(base_config(echo.port()));
  auto file = config_file_of(hg);
  write_config(file, base_config(echo.port(), "from-sighup").dump(2));
  ASSERT_EQ(::kill(hg.pid(), SIGHUP), 0);
  ASSERT_TRUE(eventually([&] { return admin_json(hg, "/api/v1/routes")["generation"] == 2; })) << hg.log();
  auto fd = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
  EXPECT_TRUE(echo_roundtrip(fd, "x"));
  EXPECT_EQ(route_of_newest(hg, echo.port()), "from-sighup");
}

TEST(AdminReload, PutRoutesReplacesTheRuleListAtomically) {
  TcpEcho echo;
  HopgateProcess hg(base_config(echo.port()));

  auto old_tunnel = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
  ASSERT_TRUE(echo_roundtrip(old_tunnel, "old"));

  auto routes = admin_call(hg, "GET", "/api/v1/routes");
  ASSERT_EQ(routes.status, 200);
  EXPECT_EQ(routes.etag, "\"1\"");
  auto current = routes.parsed();
  EXPECT_EQ(current["routes"].size(), 2u);
  EXPECT_EQ(current["effective"][0]["name"], "echo");

  // Invalid: 422 with every path, nothing applied.
  json bad = {{"routes", json::array({{{"via", "nowhere"}}, {{"match", {{"port", "99999"}}}, {"via", "direct"}}})},
              {"default", {{"via", json::array()}}}};
  auto refused = admin_call(hg, "PUT", "/api/v1/routes", bad);
  ASSERT_EQ(refused.status, 422) << refused.raw;
  std::set<std::string> paths;
  auto refusal = refused.parsed();
  for (auto& d : refusal["error"]["details"]) paths.insert(d["path"].get<std::string>());
  EXPECT_EQ(paths, (std::set<std::string>{"/routes/0/via", "/routes/1/match/port", "/default/via"})) << refused.body;
  EXPECT_EQ(admin_json(hg, "/api/v1/routes")["generation"], 1);
  EXPECT_EQ(admin_json(hg, "/api/v1/routes")["routes"], current["routes"]);

  // Valid: the echo target is now blocked for new connections; the default changes too.
  json next = {{"routes", json::array({{{"name", "no-echo"},
                                        {"match", {{"cidr", json::array({"127.0.0.1/32"})}, {"port", json::array({echo.port()})}}},
                                        {"via", "block"}}})},
               {"default", {{"via", "block"}}}};
  auto applied = admin_call(hg, "PUT", "/api/v1/routes", next, {"If-Match: \"1\""});
  ASSERT_EQ(applied.status, 200) << applied.raw;
  EXPECT_EQ(applied.parsed()["generation"], 2);
  EXPECT_THROW(socks::connect5(hg.port("socks"), "127.0.0.1", echo.port()), std::runtime_error);
  EXPECT_THROW(socks::connect5(hg.port("socks"), "example.com", 80), std::runtime_error);
  EXPECT_TRUE(echo_roundtrip(old_tunnel, "the open tunnel keeps its route"));

  auto now = admin_json(hg, "/api/v1/routes");
  EXPECT_EQ(now["generation"], 2);
  EXPECT_EQ(now["routes"], next["routes"]);
  EXPECT_EQ(now["default"], next["default"]);
  EXPECT_EQ(admin_json(hg, "/api/v1/config")["config"]["routes"], next["routes"]);
  // The listeners were not touched.
  EXPECT_EQ(admin_json(hg, "/api/v1/stats")["listeners"].size(), 3u);

  // A stale If-Match is a conflict; the running config stays.
  auto stale = admin_call(hg, "PUT", "/api/v1/routes", json{{"routes", json::array()}}, {"If-Match: \"1\""});
  ASSERT_EQ(stale.status, 409) << stale.raw;
  EXPECT_EQ(stale.parsed()["error"]["code"], "generation_conflict");
  EXPECT_EQ(admin_json(hg, "/api/v1/routes")["generation"], 2);

  // Back to an empty list without "default": the default stays as it is (block).
  auto empty = admin_call(hg, "PUT", "/api/v1/routes", json{{"routes", json::array()}});
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_EQ(admin_json(hg, "/api/v1/routes")["default"]["via"], "block");
}

// 200 tunnels pass checksummed data continuously while the config is reloaded 20 times, by
// every means (file reload, PUT /api/v1/routes, SIGHUP). None may fail or lose a byte.
TEST(AdminReload, TwoHundredTunnelsSurviveTwentyReloads) {
  constexpr int tunnels_count = 200;
  constexpr int reloads = 20;
  TcpEcho echo;
  HopgateProcess hg(base_config(echo.port(), "gen-1"));
  auto file = config_file_of(hg);

  struct Tunnel {
    Fd fd;
    DeterministicStream data{0};
    Sha256 sent, received;
    std::uint64_t bytes = 0;
    int rounds = 0;
  };
  std::vector<Tunnel> tunnels(tunnels_count);
  for (int i = 0; i < tunnels_count; ++i) {
    tunnels[i].fd = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
    tunnels[i].data = DeterministicStream(1000 + static_cast<std::uint64_t>(i));
  }
  ASSERT_EQ(admin_json(hg, "/api/v1/connections?route=gen-1&limit=1000")["total"], tunnels_count);

  // Traffic runs on its own thread for the whole test: each pass sends every tunnel a chunk of
  // varying size and reads it back.
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::string first_failure;
  std::thread traffic([&] {
    std::vector<std::uint8_t> chunk, back;
    std::size_t pass = 0;
    while (!stop.load()) {
      ++pass;
      for (int i = 0; i < tunnels_count; ++i) {
        auto& t = tunnels[i];
        std::size_t n = 1 + (pass * 7919 + static_cast<std::size_t>(i) * 104729) % 8192;
        chunk.resize(n);
        t.data.fill(chunk.data(), n);
        t.sent.update(chunk);
        if (!send_all(t.fd, std::span<const std::uint8_t>(chunk))) {
          if (failures++ == 0) first_failure = "send failed on tunnel " + std::to_string(i);
          continue;
        }
        auto got = recv_exact(t.fd, n, 10s);
        if (!got) {
          if (failures++ == 0) first_failure = "no echo on tunnel " + std::to_string(i) + " (pass " + std::to_string(pass) + ")";
          continue;
        }
        t.received.update(*got);
        t.bytes += n;
        ++t.rounds;
      }
    }
  });

  for (int gen = 2; gen <= reloads + 1; ++gen) {
    std::string name = "gen-" + std::to_string(gen);
    switch (gen % 3) {
    case 0: {
      write_config(file, base_config(echo.port(), name).dump(2));
      auto r = admin_call(hg, "POST", "/api/v1/reload");
      ASSERT_EQ(r.status, 200) << r.raw;
      break;
    }
    case 1: {
      auto routes = base_config(echo.port(), name)["routes"];
      auto r = admin_call(hg, "PUT", "/api/v1/routes", json{{"routes", routes}});
      ASSERT_EQ(r.status, 200) << r.raw;
      break;
    }
    default:
      write_config(file, base_config(echo.port(), name).dump(2));
      ASSERT_EQ(::kill(hg.pid(), SIGHUP), 0);
      break;
    }
    ASSERT_TRUE(eventually([&] { return admin_json(hg, "/api/v1/routes")["generation"] == gen; }))
        << "reload " << gen << " did not apply\n" << hg.log();
    // A new connection takes the new route.
    auto fresh = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
    EXPECT_TRUE(echo_roundtrip(fresh, "fresh " + name));
    EXPECT_EQ(route_of_newest(hg, echo.port()), name);
    std::this_thread::sleep_for(50ms);
  }
  // Let traffic run a little on the last config, then stop it.
  std::this_thread::sleep_for(200ms);
  stop = true;
  traffic.join();

  EXPECT_EQ(failures.load(), 0) << first_failure;
  // Every old tunnel still carries the route it was opened with.
  EXPECT_EQ(admin_json(hg, "/api/v1/connections?route=gen-1&limit=1000")["total"], tunnels_count);
  std::uint64_t total = 0;
  int min_rounds = INT32_MAX;
  for (int i = 0; i < tunnels_count; ++i) {
    auto& t = tunnels[i];
    ASSERT_TRUE(echo_roundtrip(t.fd, "last words"));
    shutdown_write(t.fd);
    EXPECT_TRUE(wait_closed(t.fd)) << "tunnel " << i;
    EXPECT_EQ(t.sent.hex_final(), t.received.hex_final()) << "tunnel " << i << " corrupted data";
    total += t.bytes;
    min_rounds = std::min(min_rounds, t.rounds);
  }
  EXPECT_GE(min_rounds, 2) << "traffic did not overlap the reloads";
  std::cout << "[ info ] " << tunnels_count << " tunnels, " << reloads << " reloads, " << total
            << " bytes echoed, at least " << min_rounds << " round trips per tunnel\n";
}

TEST(AdminReload, ChangedListenersAreReboundWithoutClosingOthers) {
  TcpEcho echo;
  auto cfg = base_config(echo.port());
  HopgateProcess hg(cfg);
  auto file = config_file_of(hg);
  auto old_socks = hg.port("socks");
  auto http_port = hg.port("http");

  auto tunnel = socks::connect5(old_socks, "127.0.0.1", echo.port());
  ASSERT_TRUE(echo_roundtrip(tunnel, "before"));

  // Add a second SOCKS address: the first (port 0, as configured) stays as it is.
  auto extra = free_tcp_port();
  json two = cfg;
  two["listeners"]["socks"]["listen"] = json::array({"127.0.0.1:0", "127.0.0.1:" + std::to_string(extra)});
  write_config(file, two.dump(2));
  auto r = admin_call(hg, "POST", "/api/v1/reload");
  ASSERT_EQ(r.status, 200) << r.raw;
  {
    auto a = socks::connect5(old_socks, "127.0.0.1", echo.port());
    auto b = socks::connect5(extra, "127.0.0.1", echo.port());
    EXPECT_TRUE(echo_roundtrip(a, "old port"));
    EXPECT_TRUE(echo_roundtrip(b, "new port"));
  }

  // Move SOCKS to the new address only: the old port stops accepting, its tunnel stays open,
  // and the HTTP and admin listeners are untouched.
  json moved = cfg;
  moved["listeners"]["socks"]["listen"] = json::array({"127.0.0.1:" + std::to_string(extra)});
  write_config(file, moved.dump(2));
  r = admin_call(hg, "POST", "/api/v1/reload");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(eventually([&] { return !try_connect_tcp("127.0.0.1", old_socks, 1s).valid(); }))
      << "the old SOCKS port still accepts";
  EXPECT_TRUE(echo_roundtrip(tunnel, "the tunnel on the closed port lives on"));
  {
    auto b = socks::connect5(extra, "127.0.0.1", echo.port());
    EXPECT_TRUE(echo_roundtrip(b, "new port"));
  }
  std::map<std::string, std::vector<int>> ports;
  auto stats = admin_json(hg, "/api/v1/stats");
  for (auto& l : stats["listeners"]) ports[l["name"]].push_back(l["port"]);
  EXPECT_EQ(ports["socks"], std::vector<int>{extra});
  EXPECT_EQ(ports["http"], std::vector<int>{http_port});
  EXPECT_TRUE(try_connect_tcp("127.0.0.1", http_port, 1s).valid());
  EXPECT_NE(hg.log().find("listening socks 127.0.0.1:" + std::to_string(extra)), std::string::npos);

  // An address that cannot be bound refuses the whole change: 409, nothing applied.
  TcpEcho squatter;
  json taken = moved;
  taken["listeners"]["http"]["listen"] = json::array({"127.0.0.1:" + std::to_string(squatter.port())});
  taken["routes"][0]["name"] = "should-not-apply";
  write_config(file, taken.dump(2));
  r = admin_call(hg, "POST", "/api/v1/reload");
  ASSERT_EQ(r.status, 409) << r.raw;
  EXPECT_EQ(r.parsed()["error"]["code"], "bind_failed");
  EXPECT_EQ(r.parsed()["error"]["details"][0]["path"], "/listeners/http/listen/0");
  EXPECT_EQ(admin_json(hg, "/api/v1/routes")["effective"][0]["name"], "echo");
  EXPECT_TRUE(try_connect_tcp("127.0.0.1", http_port, 1s).valid());
  EXPECT_TRUE(echo_roundtrip(tunnel, "and still alive"));
}
