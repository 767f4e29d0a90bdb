// Routing and upstream hops end to end (issue 4): the real hopgate binary, real curl on both front
// ends, and real upstreams started from Debian packages on loopback: microsocks (SOCKS5, with and
// without a password), Dante (SOCKS4 and SOCKS5), Tinyproxy (HTTP parent, with and without Basic
// auth), and a second hopgate as a SOCKS4a server. Every upstream kind is reached by name and by IP
// from every client kind; two-hop chains; wrong passwords; a dead upstream; block rules; matchers
// choosing upstreams; client credentials passed through to a SOCKS5 hop.
//
// Which upstream carried a connection is read from GET /api/v1/upstreams (each upstream's
// successful dials), so a test cannot pass by going direct.
#include "routing_test_common.hpp"
#include "support/peers.hpp"

#include <gtest/gtest.h>

using namespace hopgate::test;
using namespace hopgate::test::rt;

namespace {

constexpr const char* kHello = "hello from origin\n";
const std::vector<Client> kAllClients = {Client::socks5_hostname, Client::socks5, Client::http_forward, Client::http_connect};

std::string tail(const std::string& log, std::size_t n = 6000) { return log.size() > n ? log.substr(log.size() - n) : log; }

/// curl GET /hello through hopgate with every client kind, to the origin by name ("localhost") and
/// by IP; each fetch must reach the origin once and count a successful dial on every upstream in
/// `hops` (the route's upstreams, so the connection went through them).
///
/// An HTTP parent that is the last hop takes absolute-URI requests on a connection hopgate opens
/// like any other (the parent is the destination, not a hop the dialer handshakes with), so its
/// dial is not counted in its health; for those requests the parent's own Via header, seen by
/// the origin, shows that it carried them (`http_parent`: the parent's name; Tinyproxy here).
void expect_reaches_origin(const HopgateProcess& hg, const HttpOrigin& origin, const std::vector<std::string>& hops,
                           const std::string& user = "", const std::vector<Client>& clients = kAllClients,
                           const std::vector<std::string>& hosts = {"localhost", "127.0.0.1"},
                           const std::string& http_parent = "") {
  for (const auto& host : hosts)
    for (auto client : clients) {
      SCOPED_TRACE(std::string(to_string(client)) + " to " + host);
      bool parent_forward = client == Client::http_forward && !http_parent.empty();
      auto counted = hops;
      if (parent_forward) std::erase(counted, http_parent);
      auto requests_before = origin.requests();
      auto before = successes_of(hg, counted);
      auto path = parent_forward ? "/headers" : "/hello";
      auto r = fetch(client, hg, "http://" + authority(host, origin.port()) + path, user);
      EXPECT_TRUE(r.ok()) << r.describe() << "\n--- hopgate log ---\n" << tail(hg.log());
      if (parent_forward) EXPECT_TRUE(contains(lower(r.out), "tinyproxy")) << "no Via from the parent:\n" << r.out;
      else EXPECT_EQ(r.out, kHello);
      EXPECT_EQ(origin.requests(), requests_before + 1);
      auto after = successes_of(hg, counted);
      for (const auto& h : counted) EXPECT_GT(after[h], before[h]) << "upstream " << h << " did not carry the connection";
    }
}

json one_upstream(const std::string& name, const std::string& url) { return json{{name, url}}; }

/// Everything goes through `via`.
json all_via(const json& upstreams, const json& via) { return gateway_config(upstreams, json::array(), via); }

} // namespace

// ------------------------------------------------------------------------------------------------
// Each upstream kind from each front end, by name and by IP

TEST(RoutingUpstreams, MicrosocksAsSocks5) {
  HttpOrigin origin;
  Microsocks ms;
  HopgateProcess hg(all_via(one_upstream("ms", "socks5://" + ms.address()), "ms"));
  expect_reaches_origin(hg, origin, {"ms"});
  // socks5:// resolves the name locally (a lookup is counted), then sends the address.
  EXPECT_GT(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
}

TEST(RoutingUpstreams, MicrosocksAsSocks5h) {
  HttpOrigin origin;
  Microsocks ms;
  HopgateProcess hg(all_via(one_upstream("ms", "socks5h://" + ms.address()), "ms"));
  expect_reaches_origin(hg, origin, {"ms"});
  // socks5h:// sends the name: hopgate never looked anything up.
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
}

TEST(RoutingUpstreams, MicrosocksWithPasswordAsSocks5h) {
  HttpOrigin origin;
  Microsocks ms(Credentials{"hopuser", "hop-pass-1"});
  HopgateProcess hg(all_via(one_upstream("ms", "socks5h://hopuser:hop-pass-1@" + ms.address()), "ms"));
  expect_reaches_origin(hg, origin, {"ms"});
}

TEST(RoutingUpstreams, MicrosocksWrongPasswordIsReportedPerProtocol) {
  HttpOrigin origin;
  Microsocks ms(Credentials{"hopuser", "hop-pass-1"});
  HopgateProcess hg(all_via(one_upstream("ms-auth", "socks5h://hopuser:wrong-pass@" + ms.address()), "ms-auth"));
  auto target = authority("127.0.0.1", origin.port());

  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, "127.0.0.1", origin.port(), std::nullopt, &raw), 0x01) << to_hex(raw);
  EXPECT_EQ(socks5_reply(hg, "localhost", origin.port(), std::nullopt, &raw), 0x01) << to_hex(raw);
  EXPECT_EQ(socks4_reply(hg, "127.0.0.1", origin.port()), 0x5B);

  auto connect = http_connect(hg, target);
  EXPECT_EQ(connect.status, 502) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "ms-auth")) << connect.describe();
  EXPECT_TRUE(contains(lower(connect.body), "authentication")) << connect.describe();

  auto forward = http_forward(hg, origin.url("/hello"));
  EXPECT_EQ(forward.status, 502) << forward.describe();
  EXPECT_TRUE(contains(forward.body, "ms-auth")) << forward.describe();
  EXPECT_TRUE(contains(lower(forward.body), "authentication")) << forward.describe();

  for (auto client : kAllClients) {
    SCOPED_TRACE(to_string(client));
    auto r = fetch(client, hg, origin.url("/hello"));
    EXPECT_NE(r.out, kHello) << r.describe();
  }
  EXPECT_EQ(origin.connections_accepted(), 0u);
  EXPECT_TRUE(contains(health(hg, "ms-auth")["last_error"].dump(), "authentication")) << health(hg, "ms-auth").dump();
}

TEST(RoutingUpstreams, DanteAsSocks4) {
  HttpOrigin origin;
  Dante dante;
  HopgateProcess hg(all_via(one_upstream("dante4", "socks4://" + dante.address()), "dante4"));
  // By IP the address goes as is; by name hopgate resolves it (SOCKS4 carries only IPv4).
  expect_reaches_origin(hg, origin, {"dante4"});
  EXPECT_GT(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
}

TEST(RoutingUpstreams, DanteAsSocks5) {
  HttpOrigin origin;
  Dante dante;
  HopgateProcess hg(all_via(json{{"dante5", "socks5://" + dante.address()}, {"dante5h", "socks5h://" + dante.address()}},
                            "dante5"));
  expect_reaches_origin(hg, origin, {"dante5"});
  hg.stop();
  // And with the name sent to Dante.
  HopgateProcess hg2(all_via(json{{"dante5h", "socks5h://" + dante.address()}}, "dante5h"));
  expect_reaches_origin(hg2, origin, {"dante5h"}, "", kAllClients, {"localhost"});
}

TEST(RoutingUpstreams, TinyproxyAsHttpParent) {
  HttpOrigin origin;
  Tinyproxy tiny;
  HopgateProcess hg(all_via(one_upstream("tiny", "http://" + tiny.address()), "tiny"));
  expect_reaches_origin(hg, origin, {"tiny"}, "", kAllClients, {"localhost", "127.0.0.1"}, "tiny");
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0) << "an http hop resolves names itself";
}

TEST(RoutingUpstreams, TinyproxyWithBasicAuth) {
  HttpOrigin origin;
  Tinyproxy tiny(Credentials{"tinyuser", "tiny-pass-2"});
  HopgateProcess hg(all_via(one_upstream("tiny-auth", "http://tinyuser:tiny-pass-2@" + tiny.address()), "tiny-auth"));
  expect_reaches_origin(hg, origin, {"tiny-auth"}, "", kAllClients, {"localhost", "127.0.0.1"}, "tiny-auth");
}

TEST(RoutingUpstreams, TinyproxyWrongPasswordIsReported) {
  HttpOrigin origin;
  Tinyproxy tiny(Credentials{"tinyuser", "tiny-pass-2"});
  HopgateProcess hg(all_via(one_upstream("tiny-auth", "http://tinyuser:wrong@" + tiny.address()), "tiny-auth"));

  // Tinyproxy 1.11 answers bad proxy credentials with 401 where RFC 9110 says 407. To a CONNECT
  // that can only be the proxy speaking: 502 naming the hop, its status, and what went wrong.
  auto connect = http_connect(hg, authority("127.0.0.1", origin.port()));
  EXPECT_EQ(connect.status, 502) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "tiny-auth")) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "HTTP 401") || contains(connect.body, "HTTP 407")) << connect.describe();
  EXPECT_TRUE(contains(lower(connect.body), "authentication")) << connect.describe();
  // A parent's challenge must not reach the client as if hopgate itself wanted credentials.
  EXPECT_FALSE(contains(lower(connect.head), "proxy-authenticate")) << connect.describe();

  // In absolute form a 401 could as well be the origin's own answer, so it is passed on as is;
  // the origin is not reached either way.
  auto forward = http_forward(hg, origin.url("/hello"));
  EXPECT_TRUE(forward.status == 401 || forward.status == 502) << forward.describe();
  EXPECT_FALSE(contains(lower(forward.head), "proxy-authenticate")) << forward.describe();

  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, "127.0.0.1", origin.port(), std::nullopt, &raw), 0x01) << to_hex(raw);
  for (auto client : kAllClients) {
    SCOPED_TRACE(to_string(client));
    auto r = fetch(client, hg, origin.url("/hello"));
    EXPECT_NE(r.out, kHello) << r.describe();
  }
  EXPECT_EQ(origin.requests(), 0u);
}

TEST(RoutingUpstreams, HopgateAsHttpParentWithPassword) {
  // A parent that answers bad credentials with a real 407: a second hopgate's HTTP front end.
  HttpOrigin origin;
  HopgateProcess parent(json::parse(R"({
    "listeners": { "http": { "listen": ["127.0.0.1:0"], "auth": "password" } },
    "users": [ { "name": "carol", "password": "parent-pass-3" } ],
    "routes": [], "default": { "via": "direct" }
  })"));
  {
    HopgateProcess hg(all_via(one_upstream("parent", "http://carol:parent-pass-3@" + parent.address("http")), "parent"));
    expect_reaches_origin(hg, origin, {"parent"}, "", {Client::socks5_hostname, Client::socks5, Client::http_connect});
    // Absolute form goes to the parent as such: its Via joins ours.
    auto r = fetch(Client::http_forward, hg, origin.url("/headers"));
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(contains(r.out, "GET /headers HTTP/1.1")) << r.out;
    auto seen = lower(r.out);
    EXPECT_NE(seen.find("hopgate"), seen.rfind("hopgate")) << "both hopgates should show in Via:\n" << r.out;
  }
  auto requests = origin.requests();
  HopgateProcess hg(all_via(one_upstream("parent", "http://carol:wrong@" + parent.address("http")), "parent"));
  auto connect = http_connect(hg, authority("127.0.0.1", origin.port()));
  EXPECT_EQ(connect.status, 502) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "parent")) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "407")) << connect.describe();
  EXPECT_FALSE(contains(lower(connect.head), "proxy-authenticate")) << connect.describe();
  auto forward = http_forward(hg, origin.url("/hello"));
  EXPECT_EQ(forward.status, 502) << forward.describe();
  EXPECT_TRUE(contains(forward.body, "parent")) << forward.describe();
  EXPECT_TRUE(contains(forward.body, "407")) << forward.describe();
  EXPECT_FALSE(contains(lower(forward.head), "proxy-authenticate")) << forward.describe();
  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, "127.0.0.1", origin.port(), std::nullopt, &raw), 0x01) << to_hex(raw);
  EXPECT_EQ(origin.requests(), requests);
}

TEST(RoutingUpstreams, HopgateAsSocks4aUpstream) {
  // Dante does not speak SOCKS4a, so a second hopgate plays the SOCKS4a server: hopgate chained to hopgate.
  HttpOrigin origin;
  HopgateProcess upstream(json::parse(R"({
    "listeners": { "socks": { "listen": ["127.0.0.1:0"] } },
    "routes": [], "default": { "via": "direct" }
  })"));
  HopgateProcess hg(all_via(one_upstream("hg4a", "socks4a://" + upstream.address("socks")), "hg4a"));
  expect_reaches_origin(hg, origin, {"hg4a"});
  // The name went to the upstream unresolved: it logs the target by name, and the front hopgate
  // made no lookups.
  EXPECT_TRUE(upstream.process().wait_for_output("target=localhost:" + std::to_string(origin.port()), 5s))
      << tail(upstream.log());
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
}

TEST(RoutingUpstreams, TorStyleHttpProxyThroughSocks5h) {
  // Exactly as a Tor user would: an HTTP-only client pointed at hopgate's HTTP port, hopgate
  // pointed at a SOCKS5 server that resolves names (Tor; microsocks here).
  HttpOrigin origin;
  Microsocks tor;
  HopgateProcess hg(all_via(one_upstream("tor", "socks5h://" + tor.address()), "tor"));
  auto url = "http://localhost:" + std::to_string(origin.port()) + "/hello";
  auto r = run_curl({"-x", "http://127.0.0.1:" + std::to_string(hg.port("http")), url});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
  EXPECT_EQ(r.out, kHello);
  // The same with the proxy given as host:port, the way http_proxy is often set.
  auto env = run_curl({"-x", "127.0.0.1:" + std::to_string(hg.port("http")), url});
  EXPECT_TRUE(env.ok()) << env.describe();
  EXPECT_EQ(env.out, kHello);
  EXPECT_GE(successes(hg, "tor"), 1u); // the second request may reuse the pooled upstream connection
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0) << "hopgate resolved a name on a socks5h route";
}

// ------------------------------------------------------------------------------------------------
// Two-hop chains

TEST(RoutingChains, DanteThenTinyproxy) {
  HttpOrigin origin;
  Dante dante;
  Tinyproxy tiny;
  json ups = {{"dante", "socks5://" + dante.address()}, {"tiny", "http://" + tiny.address()}};
  HopgateProcess hg(all_via(ups, json::array({"dante", "tiny"})));
  expect_reaches_origin(hg, origin, {"dante", "tiny"}, "", kAllClients, {"localhost", "127.0.0.1"}, "tiny");
}

TEST(RoutingChains, TinyproxyThenMicrosocks) {
  HttpOrigin origin;
  Tinyproxy tiny;
  Microsocks ms;
  json ups = {{"tiny", "http://" + tiny.address()}, {"ms", "socks5h://" + ms.address()}};
  HopgateProcess hg(all_via(ups, json::array({"tiny", "ms"})));
  expect_reaches_origin(hg, origin, {"tiny", "ms"});
}

TEST(RoutingChains, SecondHopDownNamesThatHop) {
  HttpOrigin origin;
  Microsocks ms;
  auto dead = free_tcp_port();
  json ups = {{"ms", "socks5://" + ms.address()}, {"dead-ms", "socks5h://127.0.0.1:" + std::to_string(dead)}};
  HopgateProcess hg(all_via(ups, json::array({"ms", "dead-ms"})));
  // microsocks answers 0x05 (refused) for the second hop: that is about dead-ms, reported by ms.
  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, "127.0.0.1", origin.port(), std::nullopt, &raw), 0x05) << to_hex(raw);
  auto r = http_connect(hg, authority("127.0.0.1", origin.port()));
  EXPECT_EQ(r.status, 502) << r.describe();
  EXPECT_TRUE(contains(r.body, "upstream dead-ms")) << r.describe();
  EXPECT_TRUE(contains(lower(r.body), "refused")) << r.describe();
  auto f = http_forward(hg, origin.url("/hello"));
  EXPECT_EQ(f.status, 502) << f.describe();
  EXPECT_TRUE(contains(f.body, "upstream dead-ms")) << f.describe();
  // The health table blames the unreachable hop, not the one that reported it.
  EXPECT_EQ(health(hg, "dead-ms")["state"], "down") << health(hg, "dead-ms").dump();
  EXPECT_EQ(health(hg, "ms")["state"], "up") << health(hg, "ms").dump();
}

TEST(RoutingChains, HttpFirstHopCannotReachSecond) {
  // Tinyproxy says "500 Unable to connect" for every failure: the error names it and its answer.
  HttpOrigin origin;
  Tinyproxy tiny;
  auto dead = free_tcp_port();
  json ups = {{"tiny", "http://" + tiny.address()}, {"dead-ms", "socks5h://127.0.0.1:" + std::to_string(dead)}};
  HopgateProcess hg(all_via(ups, json::array({"tiny", "dead-ms"})));
  auto r = http_connect(hg, authority("127.0.0.1", origin.port()));
  EXPECT_EQ(r.status, 502) << r.describe();
  EXPECT_TRUE(contains(r.body, "upstream tiny")) << r.describe();
  EXPECT_TRUE(contains(r.body, "HTTP 500")) << r.describe();
  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, "127.0.0.1", origin.port(), std::nullopt, &raw), 0x01) << to_hex(raw);
}

// ------------------------------------------------------------------------------------------------
// An upstream that is down

TEST(RoutingErrors, UpstreamDownFailsPerProtocol) {
  HttpOrigin origin;
  auto closed = free_tcp_port(); // nothing listens here
  HopgateProcess hg(all_via(one_upstream("gone", "socks5h://127.0.0.1:" + std::to_string(closed)), "gone"));

  Bytes raw;
  int rep = socks5_reply(hg, "127.0.0.1", origin.port(), std::nullopt, &raw);
  // Connection refused by the first hop: hopgate maps it to "connection refused" (0x05); a general
  // failure (0x01) would be as acceptable.
  EXPECT_TRUE(rep == 0x05 || rep == 0x01) << "reply " << to_hex(raw);
  EXPECT_EQ(socks4_reply(hg, "127.0.0.1", origin.port()), 0x5B);

  auto connect = http_connect(hg, authority("127.0.0.1", origin.port()));
  EXPECT_EQ(connect.status, 502) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "upstream gone")) << connect.describe();
  EXPECT_TRUE(contains(lower(connect.body), "refused")) << connect.describe();

  auto forward = http_forward(hg, origin.url("/hello"));
  EXPECT_EQ(forward.status, 502) << forward.describe();
  EXPECT_TRUE(contains(forward.body, "upstream gone")) << forward.describe();

  for (auto client : kAllClients) {
    SCOPED_TRACE(to_string(client));
    auto r = fetch(client, hg, origin.url("/hello"));
    EXPECT_NE(r.out, kHello) << r.describe();
  }
  EXPECT_EQ(origin.connections_accepted(), 0u);
  auto h = health(hg, "gone");
  EXPECT_EQ(h["state"], "down") << h.dump();
  EXPECT_TRUE(contains(lower(h["last_error"].dump()), "refused")) << h.dump();
}

// ------------------------------------------------------------------------------------------------
// Rules

TEST(RoutingRules, BlockRuleAnswersInEachProtocol) {
  HttpOrigin origin;
  json routes = json::parse(R"([
    { "name": "no-ads", "match": { "domain": ["ads.example", "*.ads.example"] }, "via": "block" },
    { "name": "no-testnet", "match": { "cidr": ["192.0.2.0/24"] }, "via": "block" },
    { "name": "no-port", "match": { "port": ["6660-6669"] }, "via": "block" }
  ])");
  HopgateProcess hg(gateway_config(json::object(), routes, "direct"));

  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, "ads.example", 80, std::nullopt, &raw), 0x02) << to_hex(raw);
  EXPECT_EQ(socks5_reply(hg, "x.ads.example", 443, std::nullopt, &raw), 0x02) << to_hex(raw);
  EXPECT_EQ(socks5_reply(hg, "192.0.2.7", 80, std::nullopt, &raw), 0x02) << to_hex(raw);
  EXPECT_EQ(socks5_reply(hg, "127.0.0.1", 6667, std::nullopt, &raw), 0x02) << to_hex(raw);
  EXPECT_EQ(socks4_reply(hg, "192.0.2.7", 80), 0x5B);
  EXPECT_EQ(socks4_reply(hg, "ads.example", 80), 0x5B); // SOCKS4a

  auto forward = http_forward(hg, "http://ads.example/banner.gif");
  EXPECT_EQ(forward.status, 403) << forward.describe();
  EXPECT_TRUE(contains(forward.body, "no-ads")) << forward.describe();
  auto connect = http_connect(hg, "x.ads.example:443");
  EXPECT_EQ(connect.status, 403) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "no-ads")) << connect.describe();
  auto cidr = http_connect(hg, "192.0.2.7:443");
  EXPECT_EQ(cidr.status, 403) << cidr.describe();
  EXPECT_TRUE(contains(cidr.body, "no-testnet")) << cidr.describe();

  auto blocked = fetch(Client::socks5_hostname, hg, "http://ads.example/");
  EXPECT_FALSE(blocked.ok()) << blocked.describe();
  // Everything else still goes direct.
  for (auto client : kAllClients) {
    SCOPED_TRACE(to_string(client));
    auto r = fetch(client, hg, origin.url("/hello"));
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.out, kHello);
  }
}

TEST(RoutingRules, MatchersPickDifferentUpstreams) {
  // Names resolve through a loopback DNS server of the test (to 127.0.0.1), so socks5:// hops can
  // carry them; which upstream carried each request shows in its success count.
  CountingDns dns;
  HttpOrigin origin1, origin2;
  Microsocks a, b, c, d;
  json ups = {{"a", "socks5://" + a.address()}, {"b", "socks5://" + b.address()}, {"c", "socks5://" + c.address()},
              {"d", "socks5://" + d.address()}};
  json routes = json::array({
      {{"name", "by-user"}, {"match", {{"user", {"alice"}}}}, {"via", "d"}},
      {{"name", "by-suffix"}, {"match", {{"domain", {"*.alpha.test"}}}}, {"via", "a"}},
      {{"name", "by-dot"}, {"match", {{"domain", {".gamma.test"}}}}, {"via", "c"}},
      {{"name", "by-port"}, {"match", {{"port", {std::to_string(origin2.port())}}}}, {"via", "c"}},
      {{"name", "by-cidr"}, {"match", {{"cidr", {"127.0.0.0/8"}}}}, {"via", "b"}},
      {{"name", "by-frontend"}, {"match", {{"frontend", {"http"}}, {"domain", {"beta.test"}}}}, {"via", "d"}},
  });
  json extra = {{"users", {{{"name", "alice"}, {"password", "secret"}}}},
                {"listeners", {{"socks", {{"auth", "optional"}}}}},
                {"dns", {{"servers", {dns.address()}}}}};
  HopgateProcess hg(gateway_config(ups, routes, "block", extra));
  const std::vector<std::string> names = {"a", "b", "c", "d"};

  struct Case {
    Client client;
    std::string url;
    std::string user;
    std::string expect; ///< upstream, or "" for blocked
  };
  auto u1 = [&](const std::string& host) { return "http://" + authority(host, origin1.port()) + "/hello"; };
  auto u2 = [&](const std::string& host) { return "http://" + authority(host, origin2.port()) + "/hello"; };
  std::vector<Case> cases = {
      {Client::socks5_hostname, u1("www.alpha.test"), "", "a"},   // domain suffix
      {Client::http_connect, u1("deep.www.alpha.test"), "", "a"}, // suffix, deeper
      {Client::socks5_hostname, u1("alpha.test"), "", ""},        // "*." does not match the domain itself: default block
      {Client::socks5_hostname, u1("gamma.test"), "", "c"},       // ".gamma.test" matches the domain ...
      {Client::http_forward, u1("x.gamma.test"), "", "c"},        // ... and its subdomains
      {Client::socks5, u1("127.0.0.1"), "", "b"},                 // CIDR on an IP literal
      {Client::http_forward, u1("127.0.0.1"), "", "b"},
      {Client::socks5, u2("127.0.0.1"), "", "c"},                 // port rule comes before the CIDR rule
      {Client::http_connect, u2("127.0.0.1"), "", "c"},
      {Client::socks5_hostname, u2("www.alpha.test"), "", "a"},   // domain rule comes before the port rule
      {Client::socks5_hostname, u1("127.0.0.1"), "alice:secret", "d"}, // user rule first of all
      {Client::socks5_hostname, u1("other.test"), "", ""},        // a name matches no CIDR rule: default block
      {Client::http_forward, u1("beta.test"), "", "d"},           // frontend + domain
      {Client::socks5_hostname, u1("beta.test"), "", ""},         // same name from the SOCKS side: block
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(to_string(c.client)) + " " + c.url + (c.user.empty() ? "" : " as " + c.user) + " -> " +
                 (c.expect.empty() ? "block" : c.expect));
    auto before = successes_of(hg, names);
    auto r = fetch(c.client, hg, c.url, c.user);
    auto after = successes_of(hg, names);
    if (c.expect.empty()) {
      EXPECT_FALSE(r.ok() && r.out == kHello) << r.describe();
      EXPECT_EQ(before, after) << "a blocked request reached an upstream";
      continue;
    }
    EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
    EXPECT_EQ(r.out, kHello);
    for (const auto& n : names) {
      if (n == c.expect) EXPECT_EQ(after[n], before[n] + 1) << "upstream " << n << " should have carried it";
      else EXPECT_EQ(after[n], before[n]) << "upstream " << n << " carried a request meant for " << c.expect;
    }
  }
  // The names were resolved through the test's DNS server (socks5:// hops resolve locally).
  EXPECT_GE(dns.queries("www.alpha.test", 1), 1) << dns.describe();
  EXPECT_EQ(dns.queries("other.test"), 0) << "a blocked name was resolved: " << dns.describe();
  // The route query endpoint agrees.
  auto why = admin_get(hg, "/api/v1/route?target=www.alpha.test:" + std::to_string(origin1.port()));
  EXPECT_EQ(why.status, 200) << why.describe();
  EXPECT_TRUE(contains(why.body, "by-suffix")) << why.describe();
}

// ------------------------------------------------------------------------------------------------
// Client credentials passed through to a SOCKS5 hop (Tor stream isolation)

TEST(RoutingUpstreams, ClientCredentialsPassThroughToSocks5Hop) {
  HttpOrigin origin;
  Microsocks tor(Credentials{"alice", "secret"});
  json ups = {{"tor", {{"url", "socks5h://" + tor.address()}, {"auth", "client"}}}};
  json extra = {{"users", {{{"name", "alice"}, {"password", "secret"}}, {{"name", "bob"}, {"password", "hunter2"}}}},
                {"listeners", {{"socks", {{"auth", "password"}}}, {"http", {{"auth", "password"}}}}}};
  HopgateProcess hg(gateway_config(ups, json::array(), "tor", extra));

  // alice's credentials are the ones microsocks knows: SOCKS5 auth and HTTP Proxy-Authorization.
  expect_reaches_origin(hg, origin, {"tor"}, "alice:secret");

  // bob is a valid hopgate user, but the upstream does not know him.
  auto before = origin.requests();
  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, "127.0.0.1", origin.port(), std::pair<std::string, std::string>{"bob", "hunter2"}, &raw), 0x01)
      << to_hex(raw);
  for (auto client : kAllClients) {
    SCOPED_TRACE(std::string("bob via ") + to_string(client));
    auto r = fetch(client, hg, origin.url("/hello"), "bob:hunter2");
    EXPECT_NE(r.out, kHello) << r.describe();
  }
  EXPECT_EQ(origin.requests(), before);
  auto connect = http_exchange(hg.port("http"), "CONNECT " + authority("127.0.0.1", origin.port()) +
                                                    " HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic Ym9iOmh1bnRlcjI=\r\n\r\n");
  ASSERT_TRUE(connect.has_value());
  EXPECT_EQ(connect->status, 502) << connect->describe();
  EXPECT_TRUE(contains(lower(connect->body), "authentication")) << connect->describe();
}

TEST(RoutingUpstreams, HttpParentHealthCountsForwardedRequests) {
  // GET /api/v1/upstreams shows every upstream's health. An HTTP parent that carries absolute-URI
  // requests must show them: successes while it works, and a failure (and "down") when it is gone.
  HttpOrigin origin;
  auto tiny = std::make_unique<Tinyproxy>();
  HopgateProcess hg(all_via(one_upstream("tiny", "http://" + tiny->address()), "tiny"));
  auto r = fetch(Client::http_forward, hg, origin.url("/hello"));
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_GE(successes(hg, "tiny"), 1u) << health(hg, "tiny").dump();
  tiny.reset();
  auto f = http_forward(hg, origin.url("/hello"));
  EXPECT_EQ(f.status, 502) << f.describe();
  EXPECT_TRUE(contains(f.body, "upstream tiny")) << f.describe();
  auto h = health(hg, "tiny");
  EXPECT_GE(h["failures"].get<int>(), 1) << h.dump();
  EXPECT_EQ(h["state"], "down") << h.dump();
}
