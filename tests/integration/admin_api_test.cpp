// The admin API driven with real curl against the real binary: every endpoint, its errors and
// status codes, the bearer token, keep-alive, live connections and DELETE, readiness while draining.
#include "support/curl.hpp"
#include "support/eventually.hpp"
#include "support/hopgate_process.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/socks_wire.hpp"
#include "support/tempdir.hpp"

#include <gtest/gtest.h>
#include <csignal>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

using namespace hopgate::test;
using nlohmann::json;

namespace {

/// One HTTP answer as curl -i printed it (the last head when there were 1xx ones).
struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers; ///< lowercase names
  std::string body;
  std::string raw;
  json parsed() const {
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "not JSON: " << raw;
    return j;
  }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

Reply parse_reply(const CurlResult& r) {
  Reply out;
  out.raw = r.describe() + "\n" + r.out;
  std::string_view rest = r.out;
  while (rest.starts_with("HTTP/")) {
    auto end = rest.find("\r\n\r\n");
    if (end == std::string_view::npos) break;
    auto head = rest.substr(0, end);
    rest = rest.substr(end + 4);
    auto sp = head.find(' ');
    out.status = std::stoi(std::string(head.substr(sp + 1, 3)));
    out.headers.clear();
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos) {
      auto next = head.find("\r\n", pos + 2);
      auto line = head.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        out.headers[name] = std::string(value);
      }
      pos = next;
    }
    if (out.status >= 200) break;
  }
  out.body = std::string(rest);
  return out;
}

/// Talks to hopgate's admin listener with curl.
class Admin {
public:
  Admin(const HopgateProcess& hg, std::string token = "") : base_("http://" + hg.address("admin")), token_(std::move(token)) {}

  Reply call(const std::string& method, const std::string& path, std::optional<std::string> body = std::nullopt,
             std::vector<std::string> headers = {}, bool send_token = true) const {
    std::vector<std::string> args{"-i", "-X", method, "-H", "Expect:"};
    if (send_token && !token_.empty()) {
      args.push_back("-H");
      args.push_back("Authorization: Bearer " + token_);
    }
    for (auto& h : headers) {
      args.push_back("-H");
      args.push_back(h);
    }
    TempDir dir("hopgate-admin-body");
    if (body) {
      auto file = dir.write_file("body", *body);
      args.push_back("--data-binary");
      args.push_back("@" + file.string());
    }
    args.push_back(base_ + path);
    auto r = run_curl(args);
    EXPECT_TRUE(r.ok()) << r.describe();
    return parse_reply(r);
  }
  Reply get(const std::string& path) const { return call("GET", path); }
  json get_json(const std::string& path) const {
    auto r = get(path);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.parsed();
  }
  Reply put_json(const std::string& path, const json& body, std::vector<std::string> headers = {}) const {
    headers.push_back("Content-Type: application/json");
    return call("PUT", path, body.dump(), headers);
  }
  const std::string& base() const { return base_; }

private:
  std::string base_;
  std::string token_;
};

/// Polls `pred` every 20 ms for up to `timeout`.
bool echo_roundtrip(const Fd& fd, std::string_view text) {
  if (!send_all(fd, text)) return false;
  auto got = recv_exact(fd, text.size());
  return got && std::string(got->begin(), got->end()) == text;
}

/// hopgate with every listener, an echo route, an onion route, a user route, a group, secrets.
json full_config(std::uint16_t echo_port, const std::string& token = "") {
  json cfg = json::parse(R"({
    "listeners": {
      "http": { "listen": ["127.0.0.1:0"] },
      "socks": { "listen": ["127.0.0.1:0"] },
      "admin": { "listen": ["127.0.0.1:0"] }
    },
    "users": [ { "name": "alice", "password": "alice-password-123" } ],
    "upstreams": {
      "tor": "socks5h://127.0.0.1:9",
      "office": "http://office-user:office-password-456@proxy.corp.example:3128",
      "old": "socks5://127.0.0.1:9",
      "pool": { "group": ["tor", "office"], "strategy": "failover" }
    },
    "routes": [
      { "name": "onion", "match": { "domain": ["*.onion"] }, "via": "tor" },
      { "name": "echo", "match": { "cidr": ["127.0.0.1/32"], "port": [0] }, "via": "direct" },
      { "name": "ads", "match": { "domain": ["ads.example"] }, "via": "block" },
      { "name": "corp", "match": { "domain": ["*.corp.example"], "port": ["80", "443"] }, "via": ["office"] },
      { "name": "leaky", "match": { "domain": ["leaky.example"] }, "via": "old" },
      { "name": "alice", "match": { "user": ["alice"] }, "via": "pool" }
    ],
    "default": { "via": "direct" },
    "timeouts": { "shutdown_grace": 30 }
  })");
  cfg["routes"][1]["match"]["port"] = json::array({echo_port});
  if (!token.empty()) cfg["listeners"]["admin"]["token"] = token;
  return cfg;
}

std::string config_file_of(HopgateProcess& hg) {
  const auto& argv = hg.process().argv();
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == "--config") return argv[i + 1];
  return {};
}

} // namespace

TEST(AdminApi, HealthReadyAndErrors) {
  TcpEcho echo;
  HopgateProcess hg(full_config(echo.port()));
  Admin admin(hg);

  auto health = admin.get("/healthz");
  EXPECT_EQ(health.status, 200) << health.raw;
  EXPECT_EQ(health.header("content-type"), "application/json");
  EXPECT_EQ(health.parsed()["status"], "ok");
  auto ready = admin.get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.raw;
  EXPECT_EQ(ready.parsed()["status"], "ready");

  // 404 and 405 carry the JSON error shape.
  auto missing = admin.get("/api/v1/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.parsed()["error"]["code"], "not_found");
  auto wrong = admin.call("DELETE", "/api/v1/stats");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("allow"), "GET");
  EXPECT_EQ(wrong.parsed()["error"]["code"], "method_not_allowed");
  auto wrong_routes = admin.call("POST", "/api/v1/routes", "{}", {"Content-Type: application/json"});
  EXPECT_EQ(wrong_routes.status, 405);
  EXPECT_EQ(wrong_routes.header("allow"), "GET, PUT");

  // 415: PUT without JSON content type; 400: broken JSON; 422: wrong shape.
  auto form = admin.call("PUT", "/api/v1/routes", R"({"routes": []})", {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(form.status, 415) << form.raw;
  EXPECT_EQ(form.parsed()["error"]["code"], "unsupported_media_type");
  auto broken = admin.call("PUT", "/api/v1/routes", R"({"routes": [)", {"Content-Type: application/json"});
  EXPECT_EQ(broken.status, 400) << broken.raw;
  EXPECT_EQ(broken.parsed()["error"]["code"], "bad_json");
  auto shape = admin.put_json("/api/v1/routes", {{"rules", json::array()}});
  EXPECT_EQ(shape.status, 422) << shape.raw;
  auto shape_paths = shape.parsed()["error"]["details"];
  ASSERT_EQ(shape_paths.size(), 2u) << shape.raw;
  EXPECT_EQ(shape_paths[0]["path"], "/routes");
  EXPECT_EQ(shape_paths[1]["path"], "/rules");

  // 413: a body over the limit is refused before it is read.
  std::string big(5 * 1024 * 1024, ' ');
  auto huge = admin.call("PUT", "/api/v1/routes", big, {"Content-Type: application/json"});
  EXPECT_EQ(huge.status, 413) << huge.status;
  EXPECT_EQ(huge.parsed()["error"]["code"], "payload_too_large");

  // 400: bad parameters.
  EXPECT_EQ(admin.get("/api/v1/route").status, 400);
  EXPECT_EQ(admin.get("/api/v1/route?target=nohost").status, 400);
  EXPECT_EQ(admin.get("/api/v1/route?target=a.example:80&frontend=ftp").status, 400);
  EXPECT_EQ(admin.get("/api/v1/connections?limit=abc").status, 400);
  EXPECT_EQ(admin.call("DELETE", "/api/v1/connections/abc").status, 400);
  EXPECT_EQ(admin.call("DELETE", "/api/v1/connections/999999").status, 404);

  // The server still answers after all of that (no error closed it for good).
  EXPECT_EQ(admin.get("/healthz").status, 200);
}

TEST(AdminApi, KeepAliveServesManyRequestsOnOneConnection) {
  TcpEcho echo;
  HopgateProcess hg(full_config(echo.port()));
  std::string base = "http://" + hg.address("admin");
  std::vector<std::string> args{"-w", "%{http_code}:%{num_connects} "};
  for (std::string path : {"/healthz", "/api/v1/stats", "/metrics", "/api/v1/routes"}) {
    args.insert(args.end(), {"-o", "/dev/null", base + path});
  }
  auto r = run_curl(args);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "200:1 200:0 200:0 200:0 ") << "curl should reuse the first connection";
}

TEST(AdminApi, BearerTokenGuardsEverythingButHealthz) {
  TcpEcho echo;
  const std::string token = "admin-token-789";
  HopgateProcess hg(full_config(echo.port(), token));
  Admin with(hg, token), without(hg), wrong(hg, "admin-token-780");

  EXPECT_EQ(without.get("/healthz").status, 200);
  for (std::string path : {"/readyz", "/api/v1/stats", "/api/v1/connections", "/api/v1/config", "/api/v1/routes",
                           "/api/v1/upstreams", "/metrics", "/proxy.pac", "/api/v1/route?target=a.example:80", "/nope"}) {
    auto r = without.get(path);
    EXPECT_EQ(r.status, 401) << path << ": " << r.raw;
    EXPECT_EQ(r.header("www-authenticate"), "Bearer realm=\"hopgate\"") << path;
    EXPECT_EQ(r.parsed()["error"]["code"], "unauthorized") << path;
    EXPECT_EQ(wrong.get(path).status, 401) << path;
    EXPECT_NE(with.get(path).status, 401) << path;
  }
  EXPECT_EQ(without.call("POST", "/api/v1/reload").status, 401);
  EXPECT_EQ(without.put_json("/api/v1/routes", {{"routes", json::array()}}).status, 401);
  EXPECT_EQ(without.call("DELETE", "/api/v1/connections/1").status, 401);
  // A prefix of the token, or the token with something appended, is not the token.
  EXPECT_EQ(Admin(hg, token.substr(0, token.size() - 1)).get("/api/v1/stats").status, 401);
  EXPECT_EQ(Admin(hg, token + "0").get("/api/v1/stats").status, 401);
  EXPECT_EQ(with.get("/api/v1/stats").status, 200);
  // And the token never shows in the config.
  auto cfg = with.get("/api/v1/config");
  EXPECT_EQ(cfg.body.find(token), std::string::npos) << cfg.body;
}

TEST(AdminApi, StatsListenersAndTraffic) {
  TcpEcho echo;
  HopgateProcess hg(full_config(echo.port()));
  Admin admin(hg);

  auto stats = admin.get_json("/api/v1/stats");
  EXPECT_EQ(stats["version"], HOPGATE_VERSION);
  EXPECT_GE(stats["uptime_seconds"].get<double>(), 0.0);
  std::map<std::string, int> ports;
  for (auto& l : stats["listeners"]) ports[l["name"]] = l["port"];
  EXPECT_EQ(ports["socks"], hg.port("socks"));
  EXPECT_EQ(ports["http"], hg.port("http"));
  EXPECT_EQ(ports["admin"], hg.port("admin"));
  EXPECT_EQ(stats["routes"]["echo"]["connections"], 0);

  {
    auto fd = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
    ASSERT_TRUE(echo_roundtrip(fd, "hello, echo"));
    // While open: active on its route, bytes so far as live bytes.
    ASSERT_TRUE(eventually([&] { return admin.get_json("/api/v1/stats")["routes"]["echo"]["active"] == 1; }));
    auto live = admin.get_json("/api/v1/stats")["routes"]["echo"];
    EXPECT_EQ(live["live_bytes_up"], 11);
    EXPECT_EQ(live["live_bytes_down"], 11);
    shutdown_write(fd);
    EXPECT_TRUE(wait_closed(fd));
  }
  // A blocked request and a name resolved locally (direct route for "localhost").
  EXPECT_THROW(socks::connect5(hg.port("socks"), "ads.example", 80), std::runtime_error);
  {
    auto fd = socks::connect5(hg.port("socks"), "localhost", echo.port());
    ASSERT_TRUE(echo_roundtrip(fd, "x"));
  }
  ASSERT_TRUE(eventually([&] { return admin.get_json("/api/v1/stats")["connections_active"] == 0; }));
  stats = admin.get_json("/api/v1/stats");
  auto echo_route = stats["routes"]["echo"];
  EXPECT_EQ(echo_route["connections"], 1);
  EXPECT_EQ(echo_route["active"], 0);
  EXPECT_EQ(echo_route["bytes_up"], 11);
  EXPECT_EQ(echo_route["bytes_down"], 11);
  EXPECT_EQ(echo_route["errors"], 0);
  EXPECT_EQ(echo_route["dns_lookups"], 0);
  EXPECT_EQ(stats["routes"]["ads"]["errors"], 1);
  EXPECT_EQ(stats["routes"]["ads"]["errors_by_kind"]["blocked by rule"], 1);
  EXPECT_EQ(stats["routes"]["default"]["connections"], 1);
  EXPECT_GE(stats["routes"]["default"]["dns_lookups"].get<int>(), 1) << stats.dump(2);
  EXPECT_GE(stats["dns"]["lookups_total"].get<int>(), 1);
  auto socks = stats["frontends"]["socks"];
  EXPECT_EQ(socks["connections"], 3);
  EXPECT_EQ(socks["active"], 0);
  EXPECT_EQ(socks["errors"], 1);
  EXPECT_EQ(socks["bytes_up"], 12);
  EXPECT_TRUE(socks["rates"].contains("connections_per_second"));
  EXPECT_GT(socks["rates"]["connections_per_second"].get<double>(), 0.0) << socks.dump(2);
}

TEST(AdminApi, ConnectionsFilterPageAndDelete) {
  TcpEcho echo;
  HopgateProcess hg(full_config(echo.port()));
  Admin admin(hg);

  std::vector<Fd> tunnels;
  for (int i = 0; i < 3; ++i) {
    tunnels.push_back(socks::connect5(hg.port("socks"), "127.0.0.1", echo.port()));
    ASSERT_TRUE(echo_roundtrip(tunnels.back(), "ping " + std::to_string(i)));
  }
  auto all = admin.get_json("/api/v1/connections?route=echo");
  ASSERT_EQ(all["total"], 3) << all.dump(2);
  ASSERT_EQ(all["connections"].size(), 3u);
  auto c0 = all["connections"][0];
  EXPECT_EQ(c0["frontend"], "socks");
  EXPECT_EQ(c0["target"], "127.0.0.1:" + std::to_string(echo.port()));
  EXPECT_EQ(c0["route"], "echo");
  EXPECT_EQ(c0["hops"], "direct");
  EXPECT_EQ(c0["state"], "open");
  EXPECT_EQ(c0["bytes"]["up"], 6);
  EXPECT_EQ(c0["bytes"]["down"], 6);
  EXPECT_TRUE(c0["user"].is_null());
  EXPECT_GE(c0["age_seconds"].get<double>(), 0.0);
  EXPECT_TRUE(c0["client"].get<std::string>().starts_with("127.0.0.1:"));

  // Filters.
  EXPECT_EQ(admin.get_json("/api/v1/connections?route=onion")["total"], 0);
  EXPECT_EQ(admin.get_json("/api/v1/connections?frontend=socks&route=echo")["total"], 3);
  EXPECT_EQ(admin.get_json("/api/v1/connections?frontend=http")["total"], 0);
  EXPECT_EQ(admin.get_json("/api/v1/connections?target=127.0.0.1:" + std::to_string(echo.port()))["total"], 3);
  EXPECT_EQ(admin.get_json("/api/v1/connections?target=127.0.0.1")["total"], 3);
  EXPECT_EQ(admin.get_json("/api/v1/connections?target=127.0.0.2")["total"], 0);
  EXPECT_EQ(admin.get_json("/api/v1/connections?user=alice")["total"], 0);

  // Paging keeps the id order.
  auto page1 = admin.get_json("/api/v1/connections?route=echo&limit=2");
  auto page2 = admin.get_json("/api/v1/connections?route=echo&limit=2&offset=2");
  ASSERT_EQ(page1["connections"].size(), 2u);
  ASSERT_EQ(page2["connections"].size(), 1u);
  EXPECT_EQ(page1["total"], 3);
  EXPECT_EQ(page1["connections"][0]["id"], all["connections"][0]["id"]);
  EXPECT_EQ(page1["connections"][1]["id"], all["connections"][1]["id"]);
  EXPECT_EQ(page2["connections"][0]["id"], all["connections"][2]["id"]);

  // DELETE closes the middle tunnel only.
  auto id = all["connections"][1]["id"].get<std::uint64_t>();
  auto del = admin.call("DELETE", "/api/v1/connections/" + std::to_string(id));
  EXPECT_EQ(del.status, 200) << del.raw;
  EXPECT_EQ(del.parsed()["closing"], true);
  EXPECT_TRUE(wait_closed(tunnels[1], 5s)) << "the deleted tunnel stays open";
  EXPECT_TRUE(echo_roundtrip(tunnels[0], "still here"));
  EXPECT_TRUE(echo_roundtrip(tunnels[2], "me too"));
  ASSERT_TRUE(eventually([&] { return admin.get_json("/api/v1/connections?route=echo")["total"] == 2; }));
  EXPECT_EQ(admin.call("DELETE", "/api/v1/connections/" + std::to_string(id)).status, 404);
}

TEST(AdminApi, ConfigIsRedacted) {
  TcpEcho echo;
  const std::string token = "admin-token-secret-321";
  HopgateProcess hg(full_config(echo.port(), token));
  Admin admin(hg, token);
  auto r = admin.get("/api/v1/config");
  ASSERT_EQ(r.status, 200) << r.raw;
  for (const std::string& secret : std::vector<std::string>{"alice-password-123", "office-password-456", token})
    EXPECT_EQ(r.body.find(secret), std::string::npos) << secret << " leaked:\n" << r.body;
  auto j = r.parsed();
  EXPECT_EQ(j["config"]["users"][0]["name"], "alice");
  EXPECT_EQ(j["config"]["users"][0]["password"], "<redacted>");
  EXPECT_EQ(j["config"]["upstreams"]["office"], "http://office-user:<redacted>@proxy.corp.example:3128");
  EXPECT_EQ(j["config"]["listeners"]["admin"]["token"], "<redacted>");
  EXPECT_EQ(j["config"]["upstreams"]["tor"], "socks5h://127.0.0.1:9");
  EXPECT_EQ(j["generation"], 1);
  EXPECT_EQ(j["path"], config_file_of(hg));
}

TEST(AdminApi, UpstreamsWithoutPasswords) {
  TcpEcho echo;
  HopgateProcess hg(full_config(echo.port()));
  Admin admin(hg);
  auto r = admin.get("/api/v1/upstreams");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("office-password-456"), std::string::npos);
  std::map<std::string, json> by_name;
  auto doc = r.parsed();
  for (auto& u : doc["upstreams"]) by_name[u["name"].get<std::string>()] = u;
  ASSERT_EQ(by_name.size(), 4u) << r.body;
  EXPECT_EQ(by_name["tor"]["kind"], "socks5h");
  EXPECT_EQ(by_name["tor"]["url"], "socks5h://127.0.0.1:9");
  EXPECT_EQ(by_name["tor"]["remote_dns"], true);
  EXPECT_EQ(by_name["office"]["kind"], "http");
  EXPECT_EQ(by_name["office"]["url"], "http://office-user@proxy.corp.example:3128");
  EXPECT_EQ(by_name["old"]["remote_dns"], false);
  EXPECT_EQ(by_name["pool"]["kind"], "group");
  EXPECT_EQ(by_name["pool"]["members"], json::array({"tor", "office"}));
  EXPECT_EQ(by_name["pool"]["strategy"], "failover");
  for (auto& [name, u] : by_name) EXPECT_TRUE(u.contains("health")) << name;
}

TEST(AdminApi, RouteQueryExplainsTheDecision) {
  TcpEcho echo;
  HopgateProcess hg(full_config(echo.port()));
  Admin admin(hg);

  auto onion = admin.get_json("/api/v1/route?target=abcdef.onion:80");
  EXPECT_EQ(onion["rule"]["name"], "onion");
  EXPECT_EQ(onion["rule"]["index"], 0);
  EXPECT_EQ(onion["action"], "chain");
  EXPECT_EQ(onion["via"], "tor");
  ASSERT_EQ(onion["hops"].size(), 1u);
  EXPECT_EQ(onion["hops"][0]["name"], "tor");
  EXPECT_EQ(onion["hops"][0]["kind"], "socks5h");
  EXPECT_EQ(onion["dns"]["target_resolved_locally"], false);

  auto direct = admin.get_json("/api/v1/route?target=www.example.com:443&frontend=http");
  EXPECT_EQ(direct["rule"]["name"], "default");
  EXPECT_TRUE(direct["rule"]["index"].is_null());
  EXPECT_EQ(direct["action"], "direct");
  EXPECT_EQ(direct["dns"]["target_resolved_locally"], true);
  EXPECT_EQ(direct["request"]["frontend"], "http");

  auto ip = admin.get_json("/api/v1/route?target=127.0.0.1:" + std::to_string(echo.port()));
  EXPECT_EQ(ip["rule"]["name"], "echo");
  EXPECT_EQ(ip["dns"]["target_resolved_locally"], false);

  auto blocked = admin.get_json("/api/v1/route?target=ads.example:443");
  EXPECT_EQ(blocked["action"], "block");

  auto corp = admin.get_json("/api/v1/route?target=git.corp.example:443");
  EXPECT_EQ(corp["rule"]["name"], "corp");
  EXPECT_EQ(corp["hops"][0]["url"], "http://office-user@proxy.corp.example:3128");
  EXPECT_EQ(corp["dns"]["local_lookups"], json::array({"proxy.corp.example"}));
  // Port 22 is not in the corp rule: falls to the default.
  EXPECT_EQ(admin.get_json("/api/v1/route?target=git.corp.example:22")["rule"]["name"], "default");

  auto leaky = admin.get_json("/api/v1/route?target=leaky.example:80");
  EXPECT_EQ(leaky["dns"]["target_resolved_locally"], true) << leaky.dump(2);

  auto alice = admin.get_json("/api/v1/route?target=x.example:80&user=alice&client=10.1.2.3");
  EXPECT_EQ(alice["rule"]["name"], "alice");
  EXPECT_EQ(alice["request"]["client"], "10.1.2.3");
  EXPECT_EQ(alice["hops"][0]["kind"], "group");
  EXPECT_EQ(alice["hops"][0]["members"], json::array({"tor", "office"}));
  EXPECT_EQ(admin.get_json("/api/v1/route?target=x.example:80&user=bob")["rule"]["name"], "default");
}

TEST(AdminApi, RouteQueryResolvesOnRequest) {
  json cfg = json::parse(R"({
    "listeners": { "socks": { "listen": ["127.0.0.1:0"] }, "admin": { "listen": ["127.0.0.1:0"] } },
    "routes": [ { "name": "loopback", "match": { "cidr": ["127.0.0.0/8", "::1/128"] }, "resolve": true, "via": "block" } ],
    "default": { "via": "direct" }
  })");
  HopgateProcess hg(cfg);
  Admin admin(hg);
  auto pending = admin.get_json("/api/v1/route?target=localhost:80");
  EXPECT_EQ(pending["needs_resolution"], true);
  EXPECT_EQ(pending["rule"]["name"], "loopback");
  EXPECT_TRUE(pending["action"].is_null());
  EXPECT_EQ(pending["dns"]["target_resolved_locally"], true);
  auto lookups_before = admin.get_json("/api/v1/stats")["dns"]["lookups_total"].get<int>();
  auto resolved = admin.get_json("/api/v1/route?target=localhost:80&resolve=true");
  EXPECT_EQ(resolved["needs_resolution"], false) << resolved.dump(2);
  EXPECT_EQ(resolved["rule"]["name"], "loopback");
  EXPECT_EQ(resolved["action"], "block");
  EXPECT_FALSE(resolved["resolved"].empty());
  EXPECT_EQ(admin.get_json("/api/v1/stats")["dns"]["lookups_total"], lookups_before + 1);
  // An IP target needs no lookup.
  EXPECT_EQ(admin.get_json("/api/v1/route?target=127.0.0.1:80&resolve=true")["action"], "block");
}

TEST(AdminApi, ReadyzIs503WhileDraining) {
  TcpEcho echo;
  HopgateProcess hg(full_config(echo.port()));
  Admin admin(hg);
  auto fd = socks::connect5(hg.port("socks"), "127.0.0.1", echo.port());
  ASSERT_TRUE(echo_roundtrip(fd, "before"));
  ASSERT_EQ(::kill(hg.pid(), SIGTERM), 0);
  ASSERT_TRUE(eventually([&] { return admin.get("/readyz").status == 503; })) << hg.log();
  auto r = admin.get("/readyz");
  EXPECT_EQ(r.parsed()["status"], "draining");
  EXPECT_EQ(admin.get("/healthz").status, 200);
  // The open tunnel still works while draining and shows in the API; config changes are refused.
  EXPECT_TRUE(echo_roundtrip(fd, "during"));
  EXPECT_EQ(admin.get_json("/api/v1/connections")["total"], 1);
  auto reload = admin.call("POST", "/api/v1/reload");
  EXPECT_EQ(reload.status, 409) << reload.raw;
  shutdown_write(fd);
  EXPECT_TRUE(wait_closed(fd));
  auto status = hg.process().wait(10s);
  ASSERT_TRUE(status.has_value()) << "hopgate did not exit after its last tunnel closed";
  EXPECT_TRUE(status->clean()) << status->describe();
}
