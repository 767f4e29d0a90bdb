// The admin API's documents and request handling without sockets: redaction, secret comparison,
// route explanations, connection listings, rates, PAC generation, metrics text, and
// handle_request against a fake Control.
#include "hopgate/admin/api.hpp"
#include "hopgate/admin/metrics.hpp"
#include "hopgate/admin/pac.hpp"
#include "hopgate/admin/views.hpp"
#include "hopgate/config/loader.hpp"
#include "hopgate/frontend/context.hpp" // the Shared state the gateway builds admin::Sources from

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace hopgate;
using namespace hopgate::admin;
using namespace hopgate::observe;
using nlohmann::json;
namespace http = boost::beast::http;

namespace {

config::Config load(const json& doc) {
  auto r = config::load_config(doc);
  if (!r.ok()) {
    std::string all;
    for (auto& e : r.errors) all += e.to_string() + "\n";
    ADD_FAILURE() << all;
    return {};
  }
  return *r.config;
}

json sample_doc() {
  return json::parse(R"({
    "listeners": {
      "http": { "listen": ["127.0.0.1:8118"] },
      "socks": { "listen": ["127.0.0.1:1080"] },
      "admin": { "listen": ["127.0.0.1:9090"], "token": "tok" }
    },
    "users": [ { "name": "alice", "password": "secret" } ],
    "upstreams": {
      "tor": "socks5h://127.0.0.1:9050",
      "office": { "url": "http://u:p%40ss@proxy.corp.example:3128", "connect_timeout": 3 },
      "old": "socks5://old.example:1080",
      "pool": { "group": ["tor", "office"] }
    },
    "routes": [
      { "name": "onion", "match": { "domain": ["*.onion"] }, "via": "tor" },
      { "name": "strict", "match": { "domain": ["strict.example"] }, "remote_dns": "required", "via": "direct" },
      { "name": "leak", "match": { "domain": ["leak.example"] }, "via": ["old"] },
      { "name": "chain", "match": { "domain": ["chain.example"] }, "via": ["old", "tor"] },
      { "name": "ssh", "match": { "domain": ["ssh.example"] }, "allow_ports": ["22"], "via": "direct" },
      { "name": "home", "match": { "cidr": ["192.168.0.0/16"] }, "resolve": true, "via": "direct" }
    ],
    "default": { "via": "direct" }
  })");
}

std::shared_ptr<const routing::Snapshot> snapshot_of(const json& doc, std::uint64_t generation = 1) {
  return routing::Snapshot::make(std::make_shared<const config::Config>(load(doc)), generation);
}

RouteQuery query(const std::string& target) {
  RouteQuery q;
  q.target = *TargetAddress::parse(target);
  return q;
}

/// A Control that records what the handlers ask of it.
class FakeControl : public Control {
public:
  explicit FakeControl(frontend::Shared& shared, json doc) : shared_(shared), doc_(std::move(doc)) {}
  std::vector<ListenerStatus> listeners() const override {
    return {{"http", "127.0.0.1:8118", 8118}, {"socks", "127.0.0.1:1080", 1080}, {"admin", "127.0.0.1:9090", 9090}};
  }
  ChangeResult reload_from_file(ChangeSource) override {
    ++reloads;
    return next;
  }
  ChangeResult apply(const json& doc, ChangeSource source, std::optional<std::uint64_t> expected) override {
    applied = doc;
    applied_source = source;
    applied_expected = expected;
    auto r = config::load_config(doc);
    if (!r.ok()) return {ChangeResult::Status::invalid, r.errors, shared_.current()->generation};
    if (expected && *expected != shared_.current()->generation)
      return {ChangeResult::Status::conflict, {}, shared_.current()->generation};
    auto gen = shared_.current()->generation + 1;
    shared_.publish(routing::Snapshot::make(std::make_shared<const config::Config>(*r.config), gen));
    doc_ = doc;
    return {ChangeResult::Status::applied, {}, gen};
  }
  json config_document() const override { return doc_; }
  std::string config_path() const override { return "/etc/hopgate/hopgate.json"; }
  Clock::time_point started() const override { return started_; }
  bool ready() const override { return true; }
  json upstream_health(std::string_view name) const override { return name == "tor" ? json{{"up", true}} : json(nullptr); }

  ChangeResult next;
  int reloads = 0;
  json applied;
  ChangeSource applied_source = ChangeSource::signal;
  std::optional<std::uint64_t> applied_expected;

private:
  frontend::Shared& shared_;
  json doc_;
  Clock::time_point started_ = Clock::now() - std::chrono::seconds(10);
};

/// Shared state, a fake control and a way to run one request.
struct Harness {
  frontend::Shared shared;
  Sources sources{shared.routes, shared.registry, shared.stats, shared.draining};
  std::unique_ptr<FakeControl> control;
  explicit Harness(json doc = sample_doc()) {
    shared.publish(snapshot_of(doc));
    control = std::make_unique<FakeControl>(shared, doc);
  }
  Response run(http::verb method, const std::string& target, std::string body = "",
               std::vector<std::pair<http::field, std::string>> headers = {{http::field::authorization, "Bearer tok"}}) {
    Request req{method, target, 11};
    req.set(http::field::host, "127.0.0.1:9090"); // HTTP/1.1 always has one (the browser guard checks it)
    for (auto& [f, v] : headers) req.set(f, v);
    req.body() = std::move(body);
    req.prepare_payload();
    asio::io_context io;
    Response out;
    asio::co_spawn(io, handle_request(req, ApiContext{sources, *control}), [&](std::exception_ptr e, Response r) {
      if (e) std::rethrow_exception(e);
      out = std::move(r);
    });
    io.run();
    return out;
  }
  static json body(const Response& r) { return json::parse(r.body()); }
};

} // namespace

TEST(AdminRedaction, UrlsAndDocument) {
  EXPECT_EQ(redact_url("socks5://user:pass@host:1080"), "socks5://user:<redacted>@host:1080");
  EXPECT_EQ(redact_url("http://user@host:3128"), "http://user@host:3128");
  EXPECT_EQ(redact_url("socks5h://127.0.0.1:9050"), "socks5h://127.0.0.1:9050");
  EXPECT_EQ(redact_url("http://u:p@ss@host:1"), "http://u:<redacted>@host:1");
  EXPECT_EQ(redact_url("not a url"), "not a url");

  auto r = redact_config(sample_doc());
  EXPECT_EQ(r["users"][0]["password"], "<redacted>");
  EXPECT_EQ(r["users"][0]["name"], "alice");
  EXPECT_EQ(r["upstreams"]["office"]["url"], "http://u:<redacted>@proxy.corp.example:3128");
  EXPECT_EQ(r["upstreams"]["tor"], "socks5h://127.0.0.1:9050");
  EXPECT_EQ(r["listeners"]["admin"]["token"], "<redacted>");
  EXPECT_EQ(r["routes"], sample_doc()["routes"]);
  // Odd shapes pass through without throwing.
  EXPECT_EQ(redact_config(json::array({1, 2})), json::array({1, 2}));
  EXPECT_NO_THROW(redact_config(json{{"users", "x"}, {"upstreams", 3}, {"listeners", {{"admin", 1}}}}));
}

TEST(AdminUpstreams, UrlWithoutPasswordAndGroups) {
  auto snap = snapshot_of(sample_doc());
  frontend::Shared shared;
  shared.publish(snap);
  FakeControl control(shared, sample_doc());
  auto j = upstreams_json(*snap->config, control);
  std::map<std::string, json> by;
  for (auto& u : j["upstreams"]) by[u["name"].get<std::string>()] = u;
  EXPECT_EQ(by["office"]["url"], "http://u@proxy.corp.example:3128");
  EXPECT_EQ(by["office"]["connect_timeout"], 3.0);
  EXPECT_EQ(by["office"]["auth"], "url");
  EXPECT_EQ(by["tor"]["health"], (json{{"up", true}}));
  EXPECT_TRUE(by["old"]["health"].is_null());
  EXPECT_EQ(by["pool"]["kind"], "group");
  EXPECT_EQ(by["pool"]["members"], json::array({"tor", "office"}));
  EXPECT_EQ(j.dump().find("p@ss"), std::string::npos);
}

TEST(AdminExplain, RulesActionsAndDns) {
  auto snap = snapshot_of(sample_doc(), 7);

  auto onion = explain_route(*snap, query("abc.onion:80"));
  EXPECT_EQ(onion["rule"]["name"], "onion");
  EXPECT_EQ(onion["generation"], 7);
  EXPECT_EQ(onion["dns"]["target_resolved_locally"], false);

  // A "resolve": true rule asks for the name's addresses first.
  auto home = explain_route(*snap, query("printer.lan:631"));
  EXPECT_EQ(home["needs_resolution"], true);
  EXPECT_EQ(home["rule"]["name"], "home");
  EXPECT_EQ(home["dns"]["target_resolved_locally"], true);
  auto q = query("printer.lan:631");
  q.resolved = {asio::ip::make_address("192.168.1.5")};
  q.resolved_given = true;
  auto resolved = explain_route(*snap, q);
  EXPECT_EQ(resolved["needs_resolution"], false);
  EXPECT_EQ(resolved["rule"]["name"], "home");
  EXPECT_EQ(resolved["resolved"], json::array({"192.168.1.5"}));
  q.resolved = {asio::ip::make_address("8.8.8.8")};
  EXPECT_EQ(explain_route(*snap, q)["rule"]["name"], "default");

  auto strict = explain_route(*snap, query("strict.example:443"));
  EXPECT_EQ(strict["dns"]["refused"], true);
  EXPECT_EQ(strict["dns"]["target_resolved_locally"], false);

  auto leak = explain_route(*snap, query("leak.example:443"));
  EXPECT_EQ(leak["dns"]["target_resolved_locally"], true);
  EXPECT_EQ(leak["dns"]["local_lookups"], json::array({"leak.example", "old.example"}));

  // socks5 then socks5h: the tor hop's address is resolved (it is an IP here: no lookup), the
  // target goes unresolved to tor.
  auto chain = explain_route(*snap, query("chain.example:443"));
  EXPECT_EQ(chain["hops"].size(), 2u);
  EXPECT_EQ(chain["dns"]["target_resolved_locally"], false);
  EXPECT_EQ(chain["dns"]["local_lookups"], json::array({"old.example"}));

  auto ssh_ok = explain_route(*snap, query("ssh.example:22"));
  EXPECT_EQ(ssh_ok["port_allowed"], true);
  auto ssh_no = explain_route(*snap, query("ssh.example:80"));
  EXPECT_EQ(ssh_no["port_allowed"], false);
  EXPECT_EQ(ssh_no["dns"]["target_resolved_locally"], false);

  auto ip = explain_route(*snap, query("[2001:db8::1]:443"));
  EXPECT_EQ(ip["rule"]["name"], "default");
  EXPECT_EQ(ip["request"]["target"], "[2001:db8::1]:443");
  EXPECT_EQ(ip["dns"]["target_resolved_locally"], false);
}

TEST(AdminConnections, FilterAndPage) {
  asio::io_context io;
  Registry reg;
  std::vector<std::shared_ptr<Connection>> conns;
  for (int i = 0; i < 5; ++i) {
    auto c = reg.open("127.0.0.1:" + std::to_string(40000 + i), i < 3 ? config::Protocol::socks : config::Protocol::http,
                      io.get_executor());
    std::lock_guard lock(c->mutex);
    c->route = i % 2 ? "odd" : "even";
    c->target = "host" + std::to_string(i) + ".example:443";
    c->user = i == 4 ? "alice" : "";
    c->state = "open";
    conns.push_back(c);
  }
  conns[1]->bytes.up = 10;
  auto now = Clock::now();
  ConnectionFilter all;
  auto j = connections_json(reg, all, now);
  EXPECT_EQ(j["total"], 5);
  EXPECT_EQ(j["connections"][1]["bytes"]["up"], 10);
  EXPECT_TRUE(j["connections"][0]["user"].is_null());

  ConnectionFilter odd;
  odd.route = "odd";
  EXPECT_EQ(connections_json(reg, odd, now)["total"], 2);
  ConnectionFilter http_only;
  http_only.frontend = "http";
  EXPECT_EQ(connections_json(reg, http_only, now)["total"], 2);
  ConnectionFilter alice;
  alice.user = "alice";
  EXPECT_EQ(connections_json(reg, alice, now)["connections"][0]["user"], "alice");
  ConnectionFilter host;
  host.target = "host3.example";
  EXPECT_EQ(connections_json(reg, host, now)["total"], 1);
  host.target = "host3.example:443";
  EXPECT_EQ(connections_json(reg, host, now)["total"], 1);
  host.target = "host3.example:80";
  EXPECT_EQ(connections_json(reg, host, now)["total"], 0);

  ConnectionFilter page;
  page.limit = 2;
  page.offset = 3;
  auto p = connections_json(reg, page, now);
  EXPECT_EQ(p["total"], 5);
  ASSERT_EQ(p["connections"].size(), 2u);
  EXPECT_EQ(p["connections"][0]["id"], conns[3]->id);
  EXPECT_EQ(p["connections"][1]["id"], conns[4]->id);
}

TEST(AdminRates, SlidingWindow) {
  RateWindow w(std::chrono::seconds(60));
  auto t0 = Clock::now();
  // First call: since the origin (zero) 10 s ago.
  auto r = w.rates(t0, {{"a", 100}}, t0 - std::chrono::seconds(10));
  EXPECT_DOUBLE_EQ(r["a"], 10.0);
  // Later: relative to the first sample.
  r = w.rates(t0 + std::chrono::seconds(5), {{"a", 150}}, t0 - std::chrono::seconds(10));
  EXPECT_DOUBLE_EQ(r["a"], 10.0);
  // Totals that step back never make a negative rate.
  r = w.rates(t0 + std::chrono::seconds(6), {{"a", 90}}, t0 - std::chrono::seconds(10));
  EXPECT_GE(r["a"], 0.0);
}

TEST(AdminPacGen, ProxyStringAndRules) {
  EXPECT_EQ(pac_proxy_string({"h:1", "h:2"}), "PROXY h:1; SOCKS5 h:2");
  EXPECT_EQ(pac_proxy_string({"h:1", ""}), "PROXY h:1");
  EXPECT_EQ(pac_proxy_string({"", "h:2"}), "SOCKS5 h:2");
  auto cfg = load(sample_doc());
  auto pac = make_pac(cfg, {"127.0.0.1:8118", "127.0.0.1:1080"}, 3);
  EXPECT_NE(pac.find("function FindProxyForURL(url, host)"), std::string::npos);
  EXPECT_NE(pac.find("generation 3"), std::string::npos);
  EXPECT_NE(pac.find("var HG_PROXY = \"PROXY 127.0.0.1:8118; SOCKS5 127.0.0.1:1080\";"), std::string::npos);
  // No PAC helper that would make the browser resolve names.
  for (auto helper : {"dnsResolve(", "isInNet(", "isResolvable(", "myIpAddress("})
    EXPECT_EQ(pac.find(helper), std::string::npos) << helper;
  // A route name cannot break out of its comment line.
  auto doc = sample_doc();
  doc["routes"][0]["name"] = "evil\nalert(1)";
  auto evil = make_pac(load(doc), {"127.0.0.1:8118", ""}, 1);
  EXPECT_EQ(evil.find("\nalert(1)"), std::string::npos);
}

TEST(AdminMetricsText, EscapesAndProcessInfo) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  auto p = read_process_info();
  ASSERT_TRUE(p.open_fds.has_value());
  EXPECT_GT(*p.open_fds, 0u);
  ASSERT_TRUE(p.resident_bytes.has_value());
  EXPECT_GT(*p.resident_bytes, 0u);

  Harness h;
  h.shared.stats.on_open(config::Protocol::socks);
  h.shared.stats.on_dial("direct", std::chrono::milliseconds(3), true);
  h.shared.stats.on_dial("direct", std::chrono::seconds(20), false);
  h.shared.stats.on_close(config::Protocol::socks, "we\"ird", 5, 7, ProxyError::ok);
  auto text = render_metrics(h.sources, *h.control, Clock::now());
  EXPECT_NE(text.find("hopgate_connections_total{frontend=\"socks\",route=\"we\\\"ird\",result=\"ok\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hopgate_dial_duration_seconds_bucket{upstream=\"direct\",le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hopgate_dial_duration_seconds_bucket{upstream=\"direct\",le=\"10\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hopgate_dial_duration_seconds_bucket{upstream=\"direct\",le=\"+Inf\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hopgate_dial_failures_total{upstream=\"direct\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hopgate_bytes_total{direction=\"down\",route=\"we\\\"ird\"} 7\n"), std::string::npos) << text;
}

TEST(AdminHandler, AuthRoutingAndErrors) {
  Harness h;
  EXPECT_EQ(h.run(http::verb::get, "/healthz", "", {}).result(), http::status::ok);
  EXPECT_EQ(h.run(http::verb::get, "/api/v1/stats", "", {}).result(), http::status::unauthorized);
  EXPECT_EQ(h.run(http::verb::get, "/api/v1/stats", "", {{http::field::authorization, "Bearer tok2"}}).result(),
            http::status::unauthorized);
  EXPECT_EQ(h.run(http::verb::get, "/api/v1/stats", "", {{http::field::authorization, "bearer  tok"}}).result(),
            http::status::ok);
  EXPECT_EQ(h.run(http::verb::get, "/api/v1/stats", "", {{http::field::authorization, "Basic tok"}}).result(),
            http::status::unauthorized);

  auto stats = Harness::body(h.run(http::verb::get, "/api/v1/stats"));
  EXPECT_EQ(stats["version"], HOPGATE_VERSION);
  EXPECT_GE(stats["uptime_seconds"].get<double>(), 10.0);
  EXPECT_EQ(stats["listeners"][1]["port"], 1080);

  auto nf = h.run(http::verb::get, "/api/v2/stats");
  EXPECT_EQ(nf.result(), http::status::not_found);
  EXPECT_EQ(Harness::body(nf)["error"]["code"], "not_found");
  auto na = h.run(http::verb::post, "/metrics");
  EXPECT_EQ(na.result(), http::status::method_not_allowed);
  EXPECT_EQ(na[http::field::allow], "GET");
  EXPECT_EQ(h.run(http::verb::get, "/api/v1/connections/5").result(), http::status::method_not_allowed);
  EXPECT_EQ(h.run(http::verb::get, "/api/v1/connections?limit=5000").result(), http::status::bad_request);

  // Query strings are percent-decoded.
  auto route = Harness::body(h.run(http::verb::get, "/api/v1/route?target=%5B2001%3Adb8%3A%3A1%5D%3A443&user=a%20b"));
  EXPECT_EQ(route["request"]["target"], "[2001:db8::1]:443");
  EXPECT_EQ(route["request"]["user"], "a b");
}

TEST(AdminHandler, PutRoutesMergesIntoTheRunningDocument) {
  Harness h;
  auto routes = json::array({{{"name", "only"}, {"match", {{"domain", json::array({"x.example"})}}}, {"via", "block"}}});
  auto ok = h.run(http::verb::put, "/api/v1/routes", json{{"routes", routes}}.dump(),
                  {{http::field::authorization, "Bearer tok"}, {http::field::content_type, "application/json; charset=utf-8"},
                   {http::field::if_match, "W/\"1\""}});
  ASSERT_EQ(ok.result(), http::status::ok) << ok.body();
  EXPECT_EQ(Harness::body(ok)["generation"], 2);
  EXPECT_EQ(h.control->applied_source, ChangeSource::routes);
  EXPECT_EQ(h.control->applied_expected, std::optional<std::uint64_t>(1));
  // Everything but the routes is the running document's.
  auto expected = sample_doc();
  expected["routes"] = routes;
  EXPECT_EQ(h.control->applied, expected);

  auto conflict = h.run(http::verb::put, "/api/v1/routes", json{{"routes", routes}}.dump(),
                        {{http::field::authorization, "Bearer tok"}, {http::field::content_type, "application/json"},
                         {http::field::if_match, "\"1\""}});
  EXPECT_EQ(conflict.result(), http::status::conflict);
  auto bad_etag = h.run(http::verb::put, "/api/v1/routes", json{{"routes", routes}}.dump(),
                        {{http::field::authorization, "Bearer tok"}, {http::field::content_type, "application/json"},
                         {http::field::if_match, "soon"}});
  EXPECT_EQ(bad_etag.result(), http::status::bad_request);

  auto etag = h.run(http::verb::get, "/api/v1/routes");
  EXPECT_EQ(etag[http::field::etag], "\"2\"");
}

TEST(AdminHandler, ReloadOutcomesMapToStatuses) {
  Harness h;
  auto status_for = [&](ChangeResult::Status s) {
    h.control->next = {s, {{"/routes/0/via", "unknown upstream \"x\""}}, 4};
    return h.run(http::verb::post, "/api/v1/reload");
  };
  auto ok = status_for(ChangeResult::Status::applied);
  EXPECT_EQ(ok.result(), http::status::ok);
  EXPECT_EQ(Harness::body(ok)["generation"], 4);
  EXPECT_EQ(Harness::body(ok)["path"], "/etc/hopgate/hopgate.json");
  auto invalid = status_for(ChangeResult::Status::invalid);
  EXPECT_EQ(invalid.result(), http::status::unprocessable_entity);
  EXPECT_EQ(Harness::body(invalid)["error"]["details"][0]["path"], "/routes/0/via");
  EXPECT_EQ(status_for(ChangeResult::Status::conflict).result(), http::status::conflict);
  EXPECT_EQ(status_for(ChangeResult::Status::unavailable).result(), http::status::conflict);
  auto bind = status_for(ChangeResult::Status::bind_failed);
  EXPECT_EQ(bind.result(), http::status::conflict);
  EXPECT_EQ(Harness::body(bind)["error"]["code"], "bind_failed");
  EXPECT_EQ(h.control->reloads, 5);
}

TEST(AdminHandler, PacUsesHostHeaderAndSkipsPasswordSocks) {
  auto doc = sample_doc();
  doc["listeners"]["socks"]["auth"] = "password";
  Harness h(doc);
  auto pac = h.run(http::verb::get, "/proxy.pac", "",
                   {{http::field::authorization, "Bearer tok"}, {http::field::host, "[::1]:9090"}});
  ASSERT_EQ(pac.result(), http::status::ok);
  EXPECT_EQ(pac[http::field::content_type], "application/x-ns-proxy-autoconfig");
  EXPECT_NE(pac.body().find("var HG_PROXY = \"PROXY [::1]:8118\";"), std::string::npos) << pac.body();
}
