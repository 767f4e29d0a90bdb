// Remote DNS and no leaks (issue 4): hopgate's stub resolver is pointed (dns.servers) at a DNS
// server of the test on loopback that counts every query. A name sent through a socks5h hop must
// cause zero queries; a socks5:// hop and a direct route resolve locally (one lookup: A + AAAA).
// .onion names reach a socks5h upstream intact (a recording SOCKS5 server shows what it got) and
// are refused, without any lookup, on routes that would resolve them locally.
#include "routing_test_common.hpp"
#include "support/peers.hpp"

#include <gtest/gtest.h>

using namespace hopgate::test;
using namespace hopgate::test::rt;

namespace {

constexpr const char* kHello = "hello from origin\n";
// A syntactically real v3 onion address (56 base32 characters).
const std::string kOnion = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion";

std::string tail(const std::string& log, std::size_t n = 6000) { return log.size() > n ? log.substr(log.size() - n) : log; }

double route_lookups(const HopgateProcess& hg, const std::string& route) {
  return metric(hg, "hopgate_route_dns_lookups_total{route=\"" + route + "\"}").value_or(0);
}

/// Names not in /etc/hosts, so that only the test's DNS server can answer them.
void expect_not_in_hosts_file(const std::string& name) {
  auto hosts = read_text_file("/etc/hosts");
  ASSERT_FALSE(contains(lower(hosts), name)) << name << " is in /etc/hosts: the test would not see the lookup";
}

} // namespace

TEST(RoutingDnsLeak, Socks5hRouteMakesNoLocalLookup) {
  expect_not_in_hosts_file("leaktest.example");
  CountingDns dns;
  HttpOrigin origin;
  Microsocks ms; // it will fail to resolve leaktest.example itself: fine, the point is what hopgate asked
  json routes = json::array({{{"name", "remote"}, {"match", {{"domain", {"leaktest.example", "*.leaktest.example"}}}}, {"via", "ms"}}});
  HopgateProcess hg(gateway_config({{"ms", "socks5h://" + ms.address()}}, routes, "direct",
                                   {{"dns", {{"servers", {dns.address()}}}}}));
  for (auto client : {Client::socks5_hostname, Client::http_forward, Client::http_connect}) {
    SCOPED_TRACE(to_string(client));
    for (const std::string host : {"leaktest.example", "www.leaktest.example"})
      (void)fetch(client, hg, "http://" + authority(host, origin.port()) + "/hello");
  }
  Bytes raw;
  int rep = socks5_reply(hg, "leaktest.example", origin.port(), std::nullopt, &raw);
  EXPECT_NE(rep, 0) << "microsocks cannot resolve leaktest.example, so the upstream must have failed it: " << to_hex(raw);
  EXPECT_NE(rep, -1) << "no SOCKS reply at all";

  EXPECT_EQ(dns.queries("leaktest.example"), 0) << dns.describe();
  EXPECT_EQ(dns.queries("www.leaktest.example"), 0) << dns.describe();
  EXPECT_EQ(dns.total(), 0) << dns.describe();
  EXPECT_EQ(route_lookups(hg, "remote"), 0);
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
  EXPECT_TRUE(contains(hg.log(), "target=leaktest.example:" + std::to_string(origin.port()))) << tail(hg.log());
}

TEST(RoutingDnsLeak, Socks5RouteResolvesLocallyWithOneLookup) {
  expect_not_in_hosts_file("leaktest.example");
  CountingDns dns;
  HttpOrigin origin;
  Microsocks ms;
  json routes = json::array({{{"name", "local"}, {"match", {{"domain", {"leaktest.example"}}}}, {"via", "ms"}}});
  HopgateProcess hg(gateway_config({{"ms", "socks5://" + ms.address()}}, routes, "direct",
                                   {{"dns", {{"servers", {dns.address()}}}}, {"workers", 1}}));
  // The test DNS server answers 127.0.0.1, so the request goes all the way through.
  auto r = fetch(Client::socks5_hostname, hg, "http://" + authority("leaktest.example", origin.port()) + "/hello");
  EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
  EXPECT_EQ(r.out, kHello);
  EXPECT_EQ(dns.queries("leaktest.example", 1), 1) << dns.describe();  // one A query
  EXPECT_EQ(dns.queries("leaktest.example", 28), 1) << dns.describe(); // and one AAAA query: one lookup
  EXPECT_EQ(route_lookups(hg, "local"), 1);
  EXPECT_EQ(successes(hg, "ms"), 1u);
  // From the HTTP side too (the answer may come from the cache: at most one more lookup).
  for (auto client : {Client::http_forward, Client::http_connect}) {
    SCOPED_TRACE(to_string(client));
    auto again = fetch(client, hg, "http://" + authority("leaktest.example", origin.port()) + "/hello");
    EXPECT_TRUE(again.ok()) << again.describe();
    EXPECT_EQ(again.out, kHello);
  }
  EXPECT_LE(dns.queries("leaktest.example", 1), 3) << dns.describe();
}

TEST(RoutingDnsLeak, RouteLookupCounterCountsEachFrontEnd) {
  // hopgate_route_dns_lookups_total{route} counts the local lookups a route caused, whichever
  // front end the request came from (an answer from the cache is still a local resolution).
  CountingDns dns;
  HttpOrigin origin;
  Microsocks ms;
  json routes = json::array({{{"name", "local"}, {"match", {{"domain", {"leaktest.example"}}}}, {"via", "ms"}}});
  HopgateProcess hg(gateway_config({{"ms", "socks5://" + ms.address()}}, routes, "direct",
                                   {{"dns", {{"servers", {dns.address()}}}}}));
  for (auto client : {Client::socks5_hostname, Client::http_connect, Client::http_forward}) {
    SCOPED_TRACE(to_string(client));
    auto before = route_lookups(hg, "local");
    auto r = fetch(client, hg, "http://" + authority("leaktest.example", origin.port()) + "/hello");
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.out, kHello);
    EXPECT_GE(route_lookups(hg, "local") - before, 1) << "a request of the route resolved " << "leaktest.example"
                                                       << " locally but the route's counter did not move";
  }
}

TEST(RoutingDnsLeak, DirectRouteResolvesLocally) {
  expect_not_in_hosts_file("leaktest.example");
  CountingDns dns;
  HttpOrigin origin;
  HopgateProcess hg(gateway_config(json::object(), json::array(), "direct", {{"dns", {{"servers", {dns.address()}}}}}));
  for (auto client : {Client::socks5_hostname, Client::http_forward, Client::http_connect}) {
    SCOPED_TRACE(to_string(client));
    auto r = fetch(client, hg, "http://" + authority("leaktest.example", origin.port()) + "/hello");
    EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
    EXPECT_EQ(r.out, kHello);
  }
  EXPECT_GE(dns.queries("leaktest.example", 1), 1) << dns.describe();
  EXPECT_GE(metric(hg, "hopgate_route_dns_lookups_total{route=\"default\"}").value_or(0) +
                metric(hg, "hopgate_dns_lookups_total").value_or(0),
            1);
}

TEST(RoutingDnsLeak, OnionThroughSocks5hReachesUpstreamIntact) {
  CountingDns dns;
  RecordingSocks5 tor;
  json routes = json::array({{{"name", "onion"}, {"match", {{"domain", {"*.onion"}}}}, {"via", "tor"}}});
  HopgateProcess hg(gateway_config({{"tor", "socks5h://" + tor.address()}}, routes, "direct",
                                   {{"dns", {{"servers", {dns.address()}}}}}));
  const std::vector<Client> clients = {Client::socks5_hostname, Client::http_forward, Client::http_connect};
  for (auto client : clients) {
    SCOPED_TRACE(to_string(client));
    auto r = fetch(client, hg, "http://" + kOnion + "/");
    EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
    EXPECT_EQ(r.out, RecordingSocks5::kBody);
  }
  auto got = tor.requests();
  ASSERT_EQ(got.size(), clients.size());
  for (const auto& req : got) {
    EXPECT_EQ(req.cmd, 1);
    EXPECT_EQ(req.atyp, 3) << "the name must go as a domain (ATYP 3), not an address";
    EXPECT_EQ(req.host, kOnion);
    EXPECT_EQ(req.port, 80);
  }
  EXPECT_EQ(dns.total(), 0) << dns.describe();
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
}

TEST(RoutingDnsLeak, OnionThroughHopgateUpstreamKeepsTheName) {
  // hopgate chained to hopgate: the upstream hopgate logs the target it was asked for (and, going
  // direct itself, refuses the .onion with 0x04, which travels back to the client).
  CountingDns dns;
  HopgateProcess upstream(json::parse(R"({
    "listeners": { "socks": { "listen": ["127.0.0.1:0"] } },
    "routes": [], "default": { "via": "direct" }
  })"));
  HopgateProcess hg(gateway_config({{"hg2", "socks5h://" + upstream.address("socks")}}, json::array(), "hg2",
                                   {{"dns", {{"servers", {dns.address()}}}}}));
  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, kOnion, 80, std::nullopt, &raw), 0x04) << to_hex(raw);
  EXPECT_TRUE(upstream.process().wait_for_output("target=" + kOnion + ":80", 5s)) << tail(upstream.log());
  auto connect = http_connect(hg, kOnion + ":80");
  EXPECT_EQ(connect.status, 502) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "hg2")) << connect.describe();
  EXPECT_EQ(dns.total(), 0) << dns.describe();
}

TEST(RoutingDnsLeak, OnionOnDirectRouteIsRefused) {
  CountingDns dns;
  HopgateProcess hg(gateway_config(json::object(), json::array(), "direct", {{"dns", {{"servers", {dns.address()}}}}}));
  Bytes raw;
  EXPECT_EQ(socks5_reply(hg, kOnion, 80, std::nullopt, &raw), 0x04) << to_hex(raw);
  EXPECT_EQ(socks4_reply(hg, kOnion, 80), 0x5B); // SOCKS4a
  auto forward = http_forward(hg, "http://" + kOnion + "/");
  EXPECT_EQ(forward.status, 502) << forward.describe();
  EXPECT_TRUE(contains(forward.body, "remote DNS")) << forward.describe();
  auto connect = http_connect(hg, kOnion + ":443");
  EXPECT_EQ(connect.status, 502) << connect.describe();
  EXPECT_TRUE(contains(connect.body, "remote DNS")) << connect.describe();
  auto curl = fetch(Client::http_forward, hg, "http://" + kOnion + "/");
  EXPECT_TRUE(contains(curl.out, "remote DNS")) << curl.describe() << "\n" << curl.out;
  EXPECT_EQ(dns.total(), 0) << dns.describe();
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
}

TEST(RoutingDnsLeak, RemoteDnsRequiredRefusesLocallyResolvingRoute) {
  CountingDns dns;
  HttpOrigin origin;
  Microsocks ms;
  json ups = {{"ms5", "socks5://" + ms.address()}, {"ms5h", "socks5h://" + ms.address()}};
  json routes = json::array({
      {{"name", "strict-local"}, {"match", {{"domain", {"*.private.test"}}}}, {"via", "ms5"}, {"remote_dns", "required"}},
      {{"name", "strict-direct"}, {"match", {{"domain", {"direct.private2.test"}}}}, {"via", "direct"}, {"remote_dns", "required"}},
      {{"name", "strict-remote"}, {"match", {{"domain", {"localhost"}}}}, {"via", "ms5h"}, {"remote_dns", "required"}},
      {{"name", "onion-local"}, {"match", {{"domain", {"*.onion"}}}}, {"via", "ms5"}},
  });
  HopgateProcess hg(gateway_config(ups, routes, "direct", {{"dns", {{"servers", {dns.address()}}}}}));

  for (const std::string& host : std::vector<std::string>{"www.private.test", "direct.private2.test", kOnion}) {
    SCOPED_TRACE(host);
    Bytes raw;
    EXPECT_EQ(socks5_reply(hg, host, origin.port(), std::nullopt, &raw), 0x04) << to_hex(raw);
    auto connect = http_connect(hg, authority(host, origin.port()));
    EXPECT_EQ(connect.status, 502) << connect.describe();
    EXPECT_TRUE(contains(connect.body, "remote DNS")) << connect.describe();
    auto forward = http_forward(hg, "http://" + authority(host, origin.port()) + "/hello");
    EXPECT_EQ(forward.status, 502) << forward.describe();
    EXPECT_TRUE(contains(forward.body, "remote DNS")) << forward.describe();
  }
  EXPECT_EQ(dns.total(), 0) << dns.describe();
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
  EXPECT_EQ(origin.connections_accepted(), 0u);
  // A required-remote route through a hop that resolves names works.
  for (auto client : {Client::socks5_hostname, Client::http_forward, Client::http_connect}) {
    SCOPED_TRACE(to_string(client));
    auto r = fetch(client, hg, "http://" + authority("localhost", origin.port()) + "/hello");
    EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
    EXPECT_EQ(r.out, kHello);
  }
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0);
}

TEST(RoutingDnsLeak, OnionIsNeverResolvedToMatchACidrRule) {
  // A rule with "resolve": true matches a name by its addresses, so the router resolves names on
  // the way down the rule list. A .onion name has no addresses in DNS (RFC 7686) and asking for
  // them tells the resolver which hidden service the user visits: it must not be looked up by any
  // resolver (the counting server here, or the system's), and the onion rule further down must
  // still send it to Tor.
  CountingDns dns;
  RecordingSocks5 tor;
  json routes = json::array({
      {{"name", "lan"}, {"match", {{"cidr", {"10.0.0.0/8"}}}}, {"via", "direct"}, {"resolve", true}},
      {{"name", "onion"}, {"match", {{"domain", {"*.onion"}}}}, {"via", "tor"}},
  });
  HopgateProcess hg(gateway_config({{"tor", "socks5h://" + tor.address()}}, routes, "direct",
                                   {{"dns", {{"servers", {dns.address()}}}}}));
  for (auto client : {Client::socks5_hostname, Client::http_forward, Client::http_connect}) {
    SCOPED_TRACE(to_string(client));
    auto r = fetch(client, hg, "http://" + kOnion + "/");
    EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
    EXPECT_EQ(r.out, RecordingSocks5::kBody);
  }
  EXPECT_EQ(tor.requests().size(), 3u);
  EXPECT_EQ(dns.total(), 0) << "the onion name was sent to the configured resolver: " << dns.describe();
  EXPECT_EQ(metric(hg, "hopgate_dns_lookups_total").value_or(-1), 0) << "the onion name was looked up";
}

TEST(RoutingDnsLeak, ResolveRuleUsesConfiguredDnsServers) {
  // The lookup a "resolve": true rule makes goes to dns.servers like every other lookup of
  // hopgate's (one name per front end, so that no answer comes from the cache).
  CountingDns dns;
  HttpOrigin origin;
  Microsocks ms;
  json routes = json::array({{{"name", "loopback"}, {"match", {{"cidr", {"127.0.0.0/8"}}}}, {"via", "ms"}, {"resolve", true}}});
  HopgateProcess hg(gateway_config({{"ms", "socks5://" + ms.address()}}, routes, "block",
                                   {{"dns", {{"servers", {dns.address()}}}}}));
  std::map<Client, std::string> names = {{Client::socks5_hostname, "socks.leaktest.example"},
                                         {Client::http_connect, "connect.leaktest.example"},
                                         {Client::http_forward, "forward.leaktest.example"}};
  for (auto& [client, name] : names) {
    SCOPED_TRACE(to_string(client));
    auto before = successes(hg, "ms");
    auto r = fetch(client, hg, "http://" + authority(name, origin.port()) + "/hello");
    EXPECT_TRUE(r.ok()) << r.describe() << "\n" << tail(hg.log());
    EXPECT_EQ(r.out, kHello);
    EXPECT_GE(dns.queries(name, 1), 1) << "the rule's lookup did not use dns.servers: " << dns.describe();
    EXPECT_EQ(successes(hg, "ms"), before + 1);
  }
}
