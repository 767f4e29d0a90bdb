// Named listeners (issue 16): several listeners of one kind side by side, each under its own
// name, and routes that tell them apart by name ("frontend": ["lan"]) or by protocol
// ("frontend": "http", on every listener that speaks it). Real curl through each one.
#include "hopgate/config/loader.hpp"
#include "routing_test_common.hpp"

#include <gtest/gtest.h>

using namespace hopgate::test;
using namespace hopgate::test::rt;

namespace {

json named_config() {
  json c = gateway_config(json::object(),
                          json::array({{{"name", "lan-blocked"}, {"match", {{"frontend", {"lan", "socks-b"}}}}, {"via", "block"}}}));
  c["listeners"]["lan"] = {{"kind", "http"}, {"listen", {"127.0.0.1:0"}}};
  c["listeners"]["socks-b"] = {{"kind", "socks"}, {"listen", {"127.0.0.1:0"}}};
  c["listeners"]["mixed"] = {{"kind", "socks"}, {"listen", {"127.0.0.1:0"}}, {"protocols", {"http", "socks"}}};
  // Its kind is socks, but it is told to speak HTTP only: what it speaks is "protocols".
  c["listeners"]["socks-http"] = {{"kind", "socks"}, {"listen", {"127.0.0.1:0"}}, {"protocols", {"http"}}};
  return c;
}

std::string port_text(const HopgateProcess& hg, const std::string& name) { return std::to_string(hg.port(name)); }

/// The HTTP status curl got through the HTTP proxy at `name`, and the body.
CurlResult through_http(const HopgateProcess& hg, const std::string& name, const std::string& url) {
  return run_curl({"-x", "http://127.0.0.1:" + port_text(hg, name), "-w", "\n%{http_code}", url}, 20s);
}

CurlResult through_socks(const HopgateProcess& hg, const std::string& name, const std::string& url) {
  return run_curl({"--socks5-hostname", "127.0.0.1:" + port_text(hg, name), url}, 20s);
}

} // namespace

TEST(NamedListeners, EachServesItsKindAndRoutesMatchTheirNames) {
  HttpOrigin origin;
  HopgateProcess hg(named_config());
  for (auto* name : {"http", "lan", "socks", "socks-b", "mixed", "socks-http"}) EXPECT_NE(hg.port(name), 0) << name;

  // The listener named http is not in the rule: the request goes through.
  auto ok = through_http(hg, "http", origin.url("/hello"));
  ASSERT_TRUE(ok.ok()) << ok.describe();
  EXPECT_EQ(ok.out, "hello from origin\n\n200");
  // The same request on the listener named lan meets the rule that names it: blocked (403).
  auto blocked = through_http(hg, "lan", origin.url("/hello"));
  ASSERT_TRUE(blocked.ok()) << blocked.describe();
  EXPECT_TRUE(blocked.out.ends_with("\n403")) << blocked.out;

  auto socks_ok = through_socks(hg, "socks", origin.url("/hello"));
  ASSERT_TRUE(socks_ok.ok()) << socks_ok.describe();
  EXPECT_EQ(socks_ok.out, "hello from origin\n");
  // SOCKS5 on socks-b: refused by the rule (reply 0x02, "not allowed by ruleset"): curl exits 97.
  auto socks_blocked = through_socks(hg, "socks-b", origin.url("/hello"));
  EXPECT_FALSE(socks_blocked.ok()) << socks_blocked.describe();

  // A listener of kind socks that also speaks HTTP: both work, neither is blocked.
  auto mixed_http = through_http(hg, "mixed", origin.url("/hello"));
  ASSERT_TRUE(mixed_http.ok()) << mixed_http.describe();
  EXPECT_EQ(mixed_http.out, "hello from origin\n\n200");
  auto mixed_socks = through_socks(hg, "mixed", origin.url("/hello"));
  ASSERT_TRUE(mixed_socks.ok()) << mixed_socks.describe();

  // A socks-kind listener whose protocols are ["http"] answers HTTP, and SOCKS5 is not served.
  auto http_only = through_http(hg, "socks-http", origin.url("/hello"));
  ASSERT_TRUE(http_only.ok()) << http_only.describe();
  EXPECT_EQ(http_only.out, "hello from origin\n\n200");
  EXPECT_FALSE(through_socks(hg, "socks-http", origin.url("/hello")).ok());

  // The admin API's explanation takes a listener's name as the front end and agrees.
  auto lan = admin_get(hg, "/api/v1/route?target=127.0.0.1:80&frontend=lan");
  ASSERT_EQ(lan.status, 200) << lan.body;
  auto explained = json::parse(lan.body);
  EXPECT_EQ(explained["rule"]["name"], "lan-blocked") << lan.body;
  EXPECT_EQ(explained["request"]["listener"], "lan");
  EXPECT_EQ(explained["request"]["frontend"], "http");
  auto plain = json::parse(admin_get(hg, "/api/v1/route?target=127.0.0.1:80&frontend=http").body);
  EXPECT_EQ(plain["rule"]["name"], "default") << plain.dump();
  EXPECT_FALSE(plain["request"].contains("listener")) << "unchanged for the names that are protocols";
  EXPECT_EQ(admin_get(hg, "/api/v1/route?target=127.0.0.1:80&frontend=nosuch").status, 400);
}

TEST(NamedListeners, ProtocolInFrontendMatchesEveryListenerThatSpeaksIt) {
  HttpOrigin origin;
  json c = named_config();
  c["routes"] = json::array({{{"name", "no-http"}, {"match", {{"frontend", "http"}}}, {"via", "block"}}});
  HopgateProcess hg(c);
  for (auto* name : {"http", "lan", "mixed"}) {
    SCOPED_TRACE(name);
    auto r = through_http(hg, name, origin.url("/hello"));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(r.out.ends_with("\n403")) << r.out;
  }
  for (auto* name : {"socks", "socks-b", "mixed"}) {
    SCOPED_TRACE(name);
    auto r = through_socks(hg, name, origin.url("/hello"));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.out, "hello from origin\n");
  }
}

TEST(NamedListeners, BadListenerConfigsNameTheirPath) {
  auto refused = [](const json& listeners) {
    json c = {{"listeners", listeners}};
    auto r = hopgate::config::load_config(c);
    std::string all;
    for (auto& e : r.errors) all += e.to_string() + "\n";
    return all;
  };
  EXPECT_NE(refused({{"web", {{"listen", "127.0.0.1:0"}}}}).find("/listeners/web/kind: missing"), std::string::npos);
  EXPECT_NE(refused({{"socks", {{"kind", "http"}, {"listen", "127.0.0.1:0"}}}}).find("/listeners/socks/kind: the listener named \"socks\" is of kind \"socks\""),
            std::string::npos);
  EXPECT_NE(refused({{"socks", {{"listen", "127.0.0.1:0"}}},
                     {"admin", {{"listen", "127.0.0.1:0"}}},
                     {"api2", {{"kind", "admin"}, {"listen", "127.0.0.1:0"}}}})
                .find("/listeners/api2/kind: a second admin listener"),
            std::string::npos);
  EXPECT_NE(refused({{"web", {{"kind", "tls"}, {"listen", "127.0.0.1:0"}}}}).find("/listeners/web/kind: unknown kind \"tls\""),
            std::string::npos);
}
