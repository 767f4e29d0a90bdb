// The admin API against web pages (issue 15, docs/admin-api.md "Browsers"): the Host rule against
// DNS rebinding, the cross-site rule, CORS for configured origins, the proxy listener never
// serving admin content, and a real headless Chromium running a hostile page from another
// loopback origin and from a rebinding name.
#include "support/browser.hpp"
#include "support/curl.hpp"
#include "support/hopgate_process.hpp"
#include "support/http_wire.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"
#include "support/tools.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>

using namespace hopgate::test;
using nlohmann::json;

namespace {

json config(json admin_extra = json::object()) {
  json cfg = json::parse(R"({
    "listeners": {
      "http": { "listen": ["127.0.0.1:0"] },
      "admin": { "listen": ["127.0.0.1:0"] }
    },
    "routes": [ { "name": "kept", "match": { "domain": ["kept.example"] }, "via": "block" } ]
  })");
  for (auto& [k, v] : admin_extra.items()) cfg["listeners"]["admin"][k] = v;
  return cfg;
}

/// One raw request on a new connection to `port`, and its answer.
HttpResponse raw(std::uint16_t port, const std::string& request) {
  auto fd = connect_tcp("127.0.0.1", port);
  EXPECT_TRUE(send_all(fd, request));
  auto r = read_http_response(fd, request.starts_with("HEAD "));
  if (!r) {
    ADD_FAILURE() << "no answer to:\n" << request;
    return {};
  }
  return *r;
}

std::string request(const std::string& method, const std::string& path, const std::vector<std::string>& headers,
                    const std::string& body = "", const std::string& version = "HTTP/1.1") {
  std::string r = method + " " + path + " " + version + "\r\n";
  for (auto& h : headers) r += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "Connection: close\r\n\r\n" + body;
  return r;
}

/// A sample of /metrics ("" labels for none); 0 when the series is absent.
double metric(const HopgateProcess& hg, const std::string& series) {
  auto r = run_curl({"http://" + hg.address("admin") + "/metrics"});
  EXPECT_TRUE(r.ok()) << r.describe();
  auto at = r.out.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(r.out.substr(at + series.size() + 2));
}

double refused(const HopgateProcess& hg, const std::string& reason) {
  return metric(hg, "hopgate_admin_refused_total{reason=\"" + reason + "\"}");
}
double reloads(const HopgateProcess& hg) { return metric(hg, "hopgate_reloads_total{source=\"reload\",outcome=\"ok\"}"); }

/// GET /api/v1/routes as curl (Host 127.0.0.1:PORT) sees it: the rule list and its generation.
json routes(const HopgateProcess& hg) {
  auto r = run_curl({"http://" + hg.address("admin") + "/api/v1/routes"});
  EXPECT_TRUE(r.ok()) << r.describe();
  return json::parse(r.out, nullptr, false);
}

bool has_cors_header(const std::string& head) {
  std::string lower = head;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("\r\naccess-control-") != std::string::npos;
}

} // namespace

TEST(AdminBrowserGuard, HostRuleGuardsEveryEndpoint) {
  HopgateProcess hg(config());
  auto port = hg.port("admin");
  auto p = std::to_string(port);
  auto before = routes(hg);
  int expected_refusals = 0;
  for (std::string path : std::vector<std::string>{"/healthz", "/readyz", "/metrics", "/proxy.pac", "/api/v1/config", "/api/v1/connections",
                           "/api/v1/stats", "/api/v1/routes", "/api/v1/route?target=a.example:80", "/api/v1/upstreams"}) {
    for (std::string host : std::vector<std::string>{"evil.example:" + p, "evil.example", "rebind.test:" + p, "evil.localhost:" + p, "2130706433:" + p}) {
      auto r = raw(port, request("GET", path, {"Host: " + host}));
      EXPECT_EQ(r.status, 421) << path << " Host " << host << "\n" << r.describe();
      EXPECT_NE(r.body.find("\"misdirected_request\""), std::string::npos) << r.body;
      EXPECT_EQ(header_of(r.head, "Content-Type"), "application/json");
      ++expected_refusals;
    }
    for (std::string host : std::vector<std::string>{"127.0.0.1:" + p, "127.0.0.1", "[::1]:" + p, "[::1]", "localhost:" + p, "LocalHost.:" + p, "localhost"}) {
      auto r = raw(port, request("GET", path, {"Host: " + host}));
      EXPECT_EQ(r.status, 200) << path << " Host " << host << "\n" << r.describe();
    }
  }
  // Changing requests too, and nothing changed.
  auto put = raw(port, request("PUT", "/api/v1/routes", {"Host: evil.example:" + p, "Content-Type: application/json"},
                               R"({"routes": []})"));
  EXPECT_EQ(put.status, 421) << put.describe();
  auto reload = raw(port, request("POST", "/api/v1/reload", {"Host: evil.example"}));
  EXPECT_EQ(reload.status, 421) << reload.describe();
  auto del = raw(port, request("DELETE", "/api/v1/connections/1", {"Host: evil.example"}));
  EXPECT_EQ(del.status, 421) << del.describe();
  expected_refusals += 3;

  // RFC 9112 §3.2: a missing (HTTP/1.1), repeated or invalid Host is 400.
  for (auto headers : std::vector<std::vector<std::string>>{{},
                                                            {"Host: 127.0.0.1:" + p, "Host: 127.0.0.1:" + p},
                                                            {"Host: 127.0.0.1:" + p, "Host: evil.example"},
                                                            {"Host: user@127.0.0.1:" + p},
                                                            {"Host: 127.0.0.1:" + p + "/api"},
                                                            {"Host: ::1"},
                                                            {"Host: 127.0.0.1:99999"}}) {
    auto r = raw(port, request("GET", "/api/v1/config", headers));
    EXPECT_EQ(r.status, 400) << (headers.empty() ? std::string("no Host") : headers.back()) << "\n" << r.describe();
    EXPECT_EQ(r.body.find("\"generation\""), std::string::npos) << r.body;
    ++expected_refusals;
  }
  // HTTP/1.0 may omit Host; no browser does.
  EXPECT_EQ(raw(port, request("GET", "/api/v1/config", {}, "", "HTTP/1.0")).status, 200);

  EXPECT_EQ(refused(hg, "host"), expected_refusals);
  EXPECT_EQ(refused(hg, "cross_site"), 0);
  EXPECT_EQ(routes(hg), before);
  EXPECT_EQ(reloads(hg), 0);

  // The tools people use keep working: curl, a Prometheus-style scrape, --healthcheck.
  auto scrape = run_curl({"-H", "Host: 127.0.0.1:" + p, "-H", "Accept: text/plain;version=0.0.4", "http://" + hg.address("admin") + "/metrics"});
  EXPECT_TRUE(scrape.ok() && scrape.out.find("hopgate_admin_refused_total") != std::string::npos) << scrape.describe();
  ChildProcess check({hopgate_binary(), "--healthcheck", "http://localhost:" + p + "/healthz"});
  auto st = check.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->clean()) << check.output();
}

TEST(AdminBrowserGuard, NamesInAdminHostsAreAnswered) {
  HopgateProcess hg(config({{"hosts", {"hopgate.default.svc", "Gateway.Example."}}}));
  auto port = hg.port("admin");
  auto p = std::to_string(port);
  for (std::string host : std::vector<std::string>{"hopgate.default.svc:" + p, "HOPGATE.default.svc.", "gateway.example:" + p})
    EXPECT_EQ(raw(port, request("GET", "/api/v1/stats", {"Host: " + host})).status, 200) << host;
  for (std::string host : std::vector<std::string>{"hopgate.default:" + p, "x.gateway.example", "evil.example:" + p})
    EXPECT_EQ(raw(port, request("GET", "/api/v1/stats", {"Host: " + host})).status, 421) << host;

  // hopgate --check prints what the guard lets in.
  TempDir dir("hopgate-admin-hosts");
  auto file = dir.write_file("hopgate.json", hg.config().dump());
  ChildProcess check({hopgate_binary(), "--config", file.string(), "--check"});
  ASSERT_TRUE(check.wait(std::chrono::seconds(10)));
  EXPECT_NE(check.output().find("admin hosts: IP addresses, localhost, hopgate.default.svc, gateway.example\n"), std::string::npos)
      << check.output();
  EXPECT_NE(check.output().find("admin cors_origins: none (cross-site requests refused)\n"), std::string::npos) << check.output();
}

TEST(AdminBrowserGuard, CrossSiteRequestsAreRefusedWithoutCorsHeaders) {
  HopgateProcess hg(config());
  auto port = hg.port("admin");
  auto host = "Host: 127.0.0.1:" + std::to_string(port);
  auto before = routes(hg);
  int expected = 0;
  struct Case {
    std::string method, path;
    std::vector<std::string> headers;
  };
  std::vector<Case> refused_cases = {
      {"POST", "/api/v1/reload", {"Origin: http://evil.example", "Content-Type: text/plain"}},
      {"POST", "/api/v1/reload", {"Sec-Fetch-Site: cross-site"}},
      {"POST", "/api/v1/reload", {"Origin: null"}},
      {"POST", "/api/v1/reload", {"Origin: http://127.0.0.1:1", "Sec-Fetch-Site: same-site"}},
      {"POST", "/api/v1/reload", {"Sec-Fetch-Site: same-site"}},
      {"POST", "/api/v1/reload", {"Origin: http://127.0.0.1:" + std::to_string(port), "Origin: http://evil.example"}},
      {"PUT", "/api/v1/routes", {"Origin: http://evil.example", "Content-Type: application/json"}},
      {"DELETE", "/api/v1/connections/1", {"Origin: http://evil.example"}},
      {"GET", "/api/v1/connections", {"Origin: http://evil.example"}},
      {"GET", "/api/v1/config", {"Sec-Fetch-Site: cross-site"}},
      {"GET", "/metrics", {"Origin: http://evil.example"}},
      {"GET", "/proxy.pac", {"Sec-Fetch-Site: cross-site"}},
      {"OPTIONS", "/api/v1/routes", {"Origin: http://evil.example", "Access-Control-Request-Method: PUT"}},
  };
  for (auto& c : refused_cases) {
    c.headers.push_back(host);
    auto r = raw(port, request(c.method, c.path, c.headers, c.method == "PUT" ? R"({"routes": []})" : ""));
    EXPECT_EQ(r.status, 403) << c.method << " " << c.path << " " << c.headers.front() << "\n" << r.describe();
    EXPECT_NE(r.body.find("\"cross_site_refused\""), std::string::npos) << r.body;
    EXPECT_FALSE(has_cors_header(r.head)) << r.head;
    ++expected;
  }
  // Public endpoints answer anyone (and still without CORS headers); the API's own origin and
  // requests without Origin (curl, scripts) are served.
  for (auto& h : {"Origin: http://evil.example", "Sec-Fetch-Site: cross-site"}) {
    auto r = raw(port, request("GET", "/healthz", {host, h}));
    EXPECT_EQ(r.status, 200) << r.describe();
    EXPECT_FALSE(has_cors_header(r.head)) << r.head;
  }
  auto own = raw(port, request("GET", "/api/v1/connections", {host, "Origin: http://127.0.0.1:" + std::to_string(port),
                                                                "Sec-Fetch-Site: same-origin"}));
  EXPECT_EQ(own.status, 200) << own.describe();
  EXPECT_EQ(raw(port, request("GET", "/api/v1/config", {host, "Sec-Fetch-Site: none"})).status, 200);
  EXPECT_EQ(header_of(own.head, "X-Content-Type-Options"), "nosniff");

  EXPECT_EQ(refused(hg, "cross_site"), expected);
  EXPECT_EQ(routes(hg), before);
  EXPECT_EQ(reloads(hg), 0);
  // The same reload from the API's own origin goes through: the refusals above were the rule, not a broken endpoint.
  auto ok = raw(port, request("POST", "/api/v1/reload", {host, "Origin: http://127.0.0.1:" + std::to_string(port)}));
  EXPECT_EQ(ok.status, 200) << ok.describe();
  EXPECT_EQ(reloads(hg), 1);
}

TEST(AdminBrowserGuard, ConfiguredOriginsGetCorsAnswersAndPreflights) {
  HopgateProcess hg(config({{"cors_origins", {"http://dash.example:8080"}}}));
  auto port = hg.port("admin");
  auto host = "Host: 127.0.0.1:" + std::to_string(port);

  auto pre = raw(port, request("OPTIONS", "/api/v1/routes",
                               {host, "Origin: http://dash.example:8080", "Access-Control-Request-Method: PUT",
                                "Access-Control-Request-Headers: content-type, authorization",
                                "Access-Control-Request-Private-Network: true"}));
  EXPECT_EQ(pre.status, 204) << pre.describe();
  EXPECT_EQ(header_of(pre.head, "Access-Control-Allow-Origin"), "http://dash.example:8080");
  EXPECT_EQ(header_of(pre.head, "Access-Control-Allow-Methods"), "GET, PUT");
  EXPECT_EQ(header_of(pre.head, "Access-Control-Allow-Headers"), "Authorization, Content-Type, If-Match");
  EXPECT_EQ(header_of(pre.head, "Access-Control-Max-Age"), "600");
  EXPECT_NE(header_of(pre.head, "Vary").find("Origin"), std::string::npos) << pre.head;
  EXPECT_EQ(header_of(pre.head, "Content-Length"), "") << "RFC 9110 §8.6: no Content-Length in a 204\n" << pre.head;
  // Private Network Access only when listeners.admin.private_network is true.
  EXPECT_EQ(header_of(pre.head, "Access-Control-Allow-Private-Network"), "") << pre.head;

  auto get = raw(port, request("GET", "/api/v1/routes", {host, "Origin: http://dash.example:8080", "Sec-Fetch-Site: cross-site"}));
  EXPECT_EQ(get.status, 200) << get.describe();
  EXPECT_EQ(header_of(get.head, "Access-Control-Allow-Origin"), "http://dash.example:8080");
  EXPECT_NE(header_of(get.head, "Access-Control-Expose-Headers").find("ETag"), std::string::npos) << get.head;
  EXPECT_EQ(header_of(get.head, "Vary"), "Origin");
  EXPECT_EQ(header_of(get.head, "Access-Control-Allow-Credentials"), "");

  auto post = raw(port, request("POST", "/api/v1/reload", {host, "Origin: http://dash.example:8080"}));
  EXPECT_EQ(post.status, 200) << post.describe();
  EXPECT_EQ(reloads(hg), 1);

  // Another origin, even on the same host: refused, and named nowhere.
  for (auto origin : {"http://dash.example:8081", "https://dash.example:8080", "http://evil.example"}) {
    auto r = raw(port, request("OPTIONS", "/api/v1/routes", {host, std::string("Origin: ") + origin,
                                                              "Access-Control-Request-Method: PUT"}));
    EXPECT_EQ(r.status, 403) << origin << "\n" << r.describe();
    EXPECT_FALSE(has_cors_header(r.head)) << r.head;
  }
  // OPTIONS without Origin is a plain question about the methods.
  auto plain = raw(port, request("OPTIONS", "/api/v1/reload", {host}));
  EXPECT_EQ(plain.status, 204) << plain.describe();
  EXPECT_EQ(header_of(plain.head, "Allow"), "POST, OPTIONS");
  EXPECT_EQ(raw(port, request("OPTIONS", "/nope", {host})).status, 404);

  HopgateProcess pna(config({{"cors_origins", "http://dash.example:8080"}, {"private_network", true}}));
  auto pre2 = raw(pna.port("admin"), request("OPTIONS", "/api/v1/stats",
                                              {"Host: 127.0.0.1", "Origin: http://dash.example:8080",
                                               "Access-Control-Request-Method: GET", "Access-Control-Request-Private-Network: true"}));
  EXPECT_EQ(pre2.status, 204) << pre2.describe();
  EXPECT_EQ(header_of(pre2.head, "Access-Control-Allow-Private-Network"), "true") << pre2.head;
  EXPECT_EQ(header_of(pre2.head, "Access-Control-Allow-Methods"), "GET");
}

TEST(AdminBrowserGuard, TheProxyListenerNeverServesAdminContent) {
  HopgateProcess hg(config());
  auto proxy = hg.port("http");
  auto admin = std::to_string(hg.port("admin"));
  for (std::string authority : std::vector<std::string>{"127.0.0.1:" + admin, "localhost:" + admin, "[::1]:" + admin, "127.0.0.2:" + admin}) {
    // Absolute-URI, through the proxy to the admin port.
    auto r = raw(proxy, request("GET", "http://" + authority + "/api/v1/config", {"Host: " + authority}));
    EXPECT_GE(r.status, 400) << authority << "\n" << r.describe();
    EXPECT_EQ(r.body.find("\"generation\""), std::string::npos) << r.describe();
    auto c = raw(proxy, request("CONNECT", authority, {"Host: " + authority}));
    EXPECT_GE(c.status, 400) << authority << "\n" << c.describe();
    // Origin-form with the admin's Host, straight at the proxy port.
    auto o = raw(proxy, request("GET", "/api/v1/config", {"Host: " + authority}));
    EXPECT_GE(o.status, 400) << authority << "\n" << o.describe();
    EXPECT_EQ(o.body.find("\"generation\""), std::string::npos) << o.describe();
  }
  // And curl, as a user would try it.
  auto r = run_curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", "http://127.0.0.1:" + std::to_string(proxy),
                     "http://127.0.0.1:" + admin + "/api/v1/connections"});
  EXPECT_EQ(r.out.substr(0, 1), "4") << r.describe();
}

// ---- a real browser ----

namespace {

/// The hostile page served from a second loopback origin, and the same page from rebind.test at the
/// admin port (page_server.py relays everything but the page itself to the admin API).
struct AttackPages {
  ChildProcess cross_origin;
  ChildProcess rebinding;
  std::uint16_t page_port;
  std::uint16_t admin_port;

  static std::vector<std::string> server(std::uint16_t listen_port, const std::string& listen_host, const std::string& relay) {
    std::vector<std::string> argv{require_tool("python3", "python3"), std::string(HOPGATE_SOURCE_DIR) + "/tests/support/page_server.py",
                                  "--listen", listen_host + ":" + std::to_string(listen_port), "--page",
                                  std::string(HOPGATE_SOURCE_DIR) + "/tests/support/admin_attack_page.html"};
    if (!relay.empty()) {
      argv.push_back("--relay");
      argv.push_back(relay);
    }
    return argv;
  }

  AttackPages(std::uint16_t page, std::uint16_t admin)
      : cross_origin(server(page, "127.0.0.1", "")),
        rebinding(server(admin, "127.0.0.2", "127.0.0.1:" + std::to_string(admin))), page_port(page), admin_port(admin) {
    EXPECT_TRUE(cross_origin.wait_for_output("serving")) << cross_origin.output();
    EXPECT_TRUE(rebinding.wait_for_output("serving")) << rebinding.output();
  }

  /// The page's results as JSON: {"get_connections": 421 | "error: TypeError", ..., "done": true}.
  json run(bool rebind) const {
    auto url = rebind ? "http://rebind.test:" + std::to_string(admin_port) + "/page.html"
                      : "http://127.0.0.1:" + std::to_string(page_port) + "/page.html?api=http://127.0.0.1:" + std::to_string(admin_port);
    auto dom = chromium_dump_dom(url, {"--host-resolver-rules=MAP rebind.test 127.0.0.2"});
    auto text = element_text(dom, "results");
    auto j = json::parse(text, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "the page did not report: " << text << "\n" << dom.substr(0, 4000);
    EXPECT_EQ(j.value("done", false), true) << text;
    return j;
  }
};

} // namespace

TEST(AdminBrowser, HostilePagesFromAnotherOriginAndThroughRebindingAreRefused) {
  HopgateProcess hg(config());
  AttackPages pages(free_tcp_port(), hg.port("admin"));
  auto before = routes(hg);

  auto cross = pages.run(false);
  // Without CORS headers the browser gives the page nothing to read: every fetch fails ...
  for (auto key : {"get_connections", "post_reload", "put_routes"})
    EXPECT_EQ(cross.value(key, json()).dump(), "\"error: TypeError\"") << key << ": " << cross.dump();
  EXPECT_EQ(cross.value("post_reload_no_cors", json()), "opaque") << cross.dump();
  // ... and hopgate refused them itself: the simple POSTs and the GET reached it and were
  // answered 403, the PUT's preflight too.
  EXPECT_GE(refused(hg, "cross_site"), 4) << cross.dump();

  auto rebind = pages.run(true);
  for (auto key : {"get_connections", "post_reload", "put_routes"})
    EXPECT_EQ(rebind.value(key, json()), 421) << key << ": " << rebind.dump();
  EXPECT_GE(refused(hg, "host"), 3) << rebind.dump();

  EXPECT_EQ(routes(hg), before);
  EXPECT_EQ(reloads(hg), 0);
}

TEST(AdminBrowser, PagesOfConfiguredOriginsAndHostsSucceed) {
  auto page_port = free_tcp_port();
  HopgateProcess hg(config({{"hosts", {"rebind.test"}}, {"cors_origins", {"http://127.0.0.1:" + std::to_string(page_port)}}}));
  AttackPages pages(page_port, hg.port("admin"));
  auto generation = routes(hg).value("generation", 0);

  auto cross = pages.run(false);
  for (auto key : {"get_connections", "post_reload", "put_routes"})
    EXPECT_EQ(cross.value(key, json()), 200) << key << ": " << cross.dump();
  auto after = routes(hg);
  EXPECT_GT(after.value("generation", 0), generation);
  EXPECT_NE(after.dump().find("from-page"), std::string::npos) << after.dump();
  EXPECT_GE(reloads(hg), 2); // the CORS POST and the no-cors POST (a simple request from a listed origin)

  auto rebind = pages.run(true);
  for (auto key : {"get_connections", "post_reload", "put_routes"})
    EXPECT_EQ(rebind.value(key, json()), 200) << key << ": " << rebind.dump();
  EXPECT_EQ(refused(hg, "host"), 0);
  EXPECT_EQ(refused(hg, "cross_site"), 0);
}
