#include "hopgate/config/loader.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using hopgate::config::load_config;
using nlohmann::json;

namespace {

std::vector<std::string> errors_of(const json& doc) {
  std::vector<std::string> out;
  for (auto& e : load_config(doc).errors) out.push_back(e.to_string());
  return out;
}

json minimal() { return json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}}})"); }

} // namespace

TEST(ConfigLoader, DesignExampleLoads) {
  auto doc = json::parse(R"({
    "listeners": {
      "http":  { "listen": ["127.0.0.1:8118"] },
      "socks": { "listen": ["127.0.0.1:1080"], "auth": "none" },
      "admin": { "listen": ["127.0.0.1:9090"] }
    },
    "users": [ { "name": "alice", "password": "secret" } ],
    "upstreams": {
      "tor":    "socks5h://127.0.0.1:9050",
      "office": "http://user:pass@proxy.corp.example:3128",
      "old":    "socks4a://10.1.2.3:1080",
      "pool":   { "group": ["tor", "office"], "strategy": "failover" }
    },
    "routes": [
      { "match": { "domain": ["*.onion"] }, "via": "tor" },
      { "match": { "cidr": ["10.0.0.0/8", "fd00::/8"] }, "via": "direct" },
      { "match": { "domain": ["ads.example"] }, "via": "block" },
      { "match": { "domain": ["*.corp.example"], "port": ["80", "443"] }, "via": ["office"] },
      { "match": { "user": ["alice"] }, "via": ["office", "tor"] }
    ],
    "default": { "via": "direct" }
  })");
  auto r = load_config(doc);
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const auto& c = *r.config;
  ASSERT_EQ(c.upstreams.size(), 4u);
  auto* office = c.find_upstream("office");
  ASSERT_NE(office, nullptr);
  const auto& hop = std::get<hopgate::config::Hop>(office->kind);
  EXPECT_EQ(hop.scheme, hopgate::config::Hop::Scheme::http);
  EXPECT_EQ(hop.username, "user");
  EXPECT_EQ(hop.password, "pass");
  EXPECT_EQ(hop.port, 3128);
  EXPECT_EQ(hop.display(), "http://proxy.corp.example:3128");
  ASSERT_EQ(c.routes.size(), 5u);
  EXPECT_EQ(c.routes[3].match.port.size(), 2u);
  EXPECT_EQ(c.routes[4].via.chain, (std::vector<std::string>{"office", "tor"}));
  EXPECT_EQ(c.listeners.socks()->listen[0].port(), 1080);
}

TEST(ConfigLoader, UnknownUpstreamNamesThePath) {
  auto doc = minimal();
  doc["routes"] = json::parse(R"([{"via": "direct"}, {"via": "direct"}, {"via": "direct"}, {"match": {"domain": "x"}, "via": "tro"}])");
  EXPECT_EQ(errors_of(doc), std::vector<std::string>{"/routes/3/via: unknown upstream \"tro\""});
}

TEST(ConfigLoader, UnknownKeysAreErrors) {
  auto doc = minimal();
  doc["listeners"]["socks"]["lisen"] = "x";
  doc["routs"] = json::array();
  auto errs = errors_of(doc);
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0], "/routs: unknown key");
  EXPECT_EQ(errs[1], "/listeners/socks/lisen: unknown key");
}

TEST(ConfigLoader, ReportsEveryErrorAtOnce) {
  auto doc = json::parse(R"({
    "listeners": {"socks": {"listen": "127.0.0.1:99999", "auth": "maybe"}},
    "upstreams": {"a": "ftp://x:1", "b": "socks5://nohost", "g": {"group": ["a", "zz"], "strategy": "fastest"}},
    "routes": [{"match": {"cidr": ["10.0.0.0/33"], "port": ["0"], "frontend": "ftp"}, "via": []}],
    "timeouts": {"idle": -1}
  })");
  auto errs = errors_of(doc);
  auto has = [&](const std::string& prefix) {
    for (auto& e : errs)
      if (e.rfind(prefix, 0) == 0) return true;
    return false;
  };
  EXPECT_TRUE(has("/listeners/socks/listen: bad port"));
  EXPECT_TRUE(has("/listeners/socks/auth: unknown auth \"maybe\""));
  EXPECT_TRUE(has("/upstreams/a: unknown scheme \"ftp\""));
  EXPECT_TRUE(has("/upstreams/b: expected host:port"));
  EXPECT_TRUE(has("/upstreams/g/strategy: unknown strategy \"fastest\""));
  EXPECT_TRUE(has("/upstreams/g/group/1: unknown upstream \"zz\""));
  EXPECT_TRUE(has("/routes/0/match/cidr/0: bad CIDR"));
  EXPECT_TRUE(has("/routes/0/match/port/0: bad port"));
  EXPECT_TRUE(has("/routes/0/match/frontend: unknown front end \"ftp\""));
  EXPECT_TRUE(has("/routes/0/via: empty chain"));
  EXPECT_TRUE(has("/timeouts/idle: expected a non-negative number"));
}

TEST(ConfigLoader, OpenProxyIsRefusedUnlessAcknowledged) {
  auto doc = json::parse(R"({"listeners": {"http": {"listen": "0.0.0.0:8118"}}})");
  auto errs = errors_of(doc);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("open proxy"), std::string::npos);
  doc["listeners"]["http"]["open_proxy"] = true;
  EXPECT_TRUE(errors_of(doc).empty());
  doc["listeners"]["http"].erase("open_proxy");
  doc["listeners"]["http"]["allow"] = json::array({"192.168.0.0/16"});
  EXPECT_TRUE(errors_of(doc).empty());
}

TEST(ConfigLoader, AdminOffLoopbackNeedsToken) {
  auto doc = minimal();
  doc["listeners"]["admin"] = {{"listen", "0.0.0.0:9090"}};
  EXPECT_EQ(errors_of(doc), std::vector<std::string>{"/listeners/admin/token: missing: the admin API listens on a non-loopback address and needs a bearer token"});
}

TEST(ConfigLoader, AdminBrowserKeysAreNormalizedAndCheckedWithTheirPaths) {
  auto doc = minimal();
  doc["listeners"]["admin"] = json::parse(R"({"listen": "127.0.0.1:9090", "hosts": ["Hopgate.Default.SVC.", "dash"],
    "cors_origins": "HTTP://Dash.Example:80", "private_network": true})");
  auto r = load_config(doc);
  ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
  EXPECT_EQ(r.config->listeners.admin()->hosts, (std::vector<std::string>{"hopgate.default.svc", "dash"}));
  EXPECT_EQ(r.config->listeners.admin()->cors_origins, std::vector<std::string>{"http://dash.example"});
  EXPECT_TRUE(r.config->listeners.admin()->private_network);

  doc["listeners"]["admin"] = json::parse(R"({"listen": "127.0.0.1:9090", "hosts": ["ok", "evil.example:9090", "a b"],
    "cors_origins": ["*", "null", "http://dash.example/path", "https://ok.example"], "private_network": "yes"})");
  auto errs = errors_of(doc);
  ASSERT_EQ(errs.size(), 6u);
  EXPECT_TRUE(errs[0].starts_with("/listeners/admin/hosts/1: \"evil.example:9090\" is not a host name")) << errs[0];
  EXPECT_TRUE(errs[1].starts_with("/listeners/admin/hosts/2: ")) << errs[1];
  EXPECT_TRUE(errs[2].starts_with("/listeners/admin/cors_origins/0: \"*\" is not an origin")) << errs[2];
  EXPECT_TRUE(errs[3].starts_with("/listeners/admin/cors_origins/1: ")) << errs[3];
  EXPECT_TRUE(errs[4].starts_with("/listeners/admin/cors_origins/2: ")) << errs[4];
  EXPECT_TRUE(errs[5].starts_with("/listeners/admin/private_network: ")) << errs[5];

  // Only the admin listener has them.
  doc = minimal();
  doc["listeners"]["socks"]["hosts"] = "x";
  EXPECT_EQ(errors_of(doc), std::vector<std::string>{"/listeners/socks/hosts: unknown key"});
}

TEST(ConfigLoader, PasswordAuthNeedsUsers) {
  auto doc = minimal();
  doc["listeners"]["socks"]["auth"] = "password";
  EXPECT_EQ(errors_of(doc), std::vector<std::string>{"/listeners/socks/auth: password auth needs at least one entry in /users"});
}

TEST(ConfigLoader, HopUrls) {
  std::string why;
  auto h = hopgate::config::parse_hop_url("socks5h://a%40b:p%3Aw@[::1]:9050", why);
  ASSERT_TRUE(h) << why;
  EXPECT_EQ(h->host, "::1");
  EXPECT_EQ(h->username, "a@b");
  EXPECT_EQ(h->password, "p:w");
  EXPECT_TRUE(h->remote_dns());
  EXPECT_EQ(h->display(), "socks5h://[::1]:9050");
  EXPECT_FALSE(hopgate::config::parse_hop_url("socks5://host", why));
  EXPECT_FALSE(hopgate::config::parse_hop_url("socks5://host:1/path", why));
}

TEST(ConfigLoader, PortRanges) {
  using hopgate::config::parse_port_range;
  EXPECT_EQ(parse_port_range("80")->first, 80);
  EXPECT_EQ(parse_port_range("8000-8999")->last, 8999);
  EXPECT_FALSE(parse_port_range("0"));
  EXPECT_FALSE(parse_port_range("9-8"));
  EXPECT_FALSE(parse_port_range("65536"));
  EXPECT_FALSE(parse_port_range("80a"));
}

TEST(ConfigLoader, NamedChainsAndChainMembers) {
  auto doc = minimal();
  doc["upstreams"] = json::parse(R"({
    "a": "socks5h://127.0.0.1:9050", "b": "http://127.0.0.1:3128",
    "pair": {"chain": ["a", "b"]},
    "pool": {"group": ["pair", "a"], "strategy": "failover"}})");
  doc["default"] = {{"via", "pool"}};
  auto r = load_config(doc);
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const auto& c = *r.config;
  const auto* pair = c.find_upstream("pair");
  ASSERT_NE(pair, nullptr);
  auto hops = c.hops_of(*pair);
  ASSERT_EQ(hops.size(), 2u);
  EXPECT_EQ(*hops[0].name, "a");
  EXPECT_EQ(*hops[1].name, "b");
  // The hops a group can end on: each member's last hop.
  auto last = c.last_hops(*c.find_upstream("pool"));
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0]->scheme, hopgate::config::Hop::Scheme::http);
  EXPECT_EQ(last[1]->scheme, hopgate::config::Hop::Scheme::socks5h);

  // A chain holds single hops only, and names ones that exist; a group may not hold a group.
  doc["upstreams"] = json::parse(R"({
    "a": "socks5h://127.0.0.1:9050",
    "pool": {"group": ["a"]},
    "bad": {"chain": ["a", "pool", "nope"]},
    "empty": {"chain": []},
    "nested": {"group": ["pool"]}})");
  doc["default"] = {{"via", "a"}};
  auto errs = errors_of(doc);
  EXPECT_EQ(errs, (std::vector<std::string>{
                      "/upstreams/empty/chain: a chain needs at least one hop",
                      "/upstreams/bad/chain/1: a hop of a named chain must be a single upstream, not a group or a chain (\"pool\")",
                      "/upstreams/bad/chain/2: unknown upstream \"nope\"",
                      "/upstreams/nested/group/0: a group member must be an upstream or a chain, not another group (\"pool\")"}));
}
