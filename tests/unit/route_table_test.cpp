#include "hopgate/config/loader.hpp"
#include "hopgate/routing/route_table.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>

using hopgate::Cidr;
using hopgate::TargetAddress;
using hopgate::config::Protocol;
using hopgate::config::Route;
using hopgate::config::Via;
using hopgate::routing::Decision;
using hopgate::routing::domain_pattern_matches;
using hopgate::routing::Request;
using hopgate::routing::RouteTable;
using boost::asio::ip::address;
using boost::asio::ip::make_address;
using nlohmann::json;

namespace {

/// A table from the "routes" (and optional "default") of a config document, through the real loader.
RouteTable table_from(const json& routes, const json& default_via = "direct") {
  json doc = {
      {"listeners", {{"socks", {{"listen", "127.0.0.1:0"}}}}},
      {"users", json::array({{{"name", "alice"}, {"password", "a"}}, {{"name", "bob"}, {"password", "b"}}})},
      {"upstreams", {{"tor", "socks5h://127.0.0.1:9050"}, {"office", "http://127.0.0.1:3128"}}},
      {"routes", routes},
      {"default", {{"via", default_via}}},
  };
  auto r = hopgate::config::load_config(doc);
  std::string errors;
  for (const auto& e : r.errors) errors += e.to_string() + "\n";
  EXPECT_TRUE(r.ok()) << errors;
  if (!r.ok()) return RouteTable({}, Via{});
  return RouteTable(r.config->routes, r.config->default_via);
}

Request to(std::string_view host, std::uint16_t port = 443) {
  Request req;
  req.target = TargetAddress::from_host(host, port);
  req.client.address = make_address("127.0.0.1");
  return req;
}

/// A domain target exactly as given (from_host would normalise it first).
Request to_raw_domain(std::string name, std::uint16_t port = 443) {
  Request req;
  req.target.domain = std::move(name);
  req.target.port = port;
  req.client.address = make_address("127.0.0.1");
  return req;
}

std::size_t rule_of(const RouteTable& t, const Request& req) { return t.match(req).rule_index; }

constexpr std::size_t none = Decision::default_rule;

} // namespace

// ---- domain_pattern_matches ------------------------------------------------------------------

TEST(RouteDomainPattern, Exact) {
  EXPECT_TRUE(domain_pattern_matches("example.com", "example.com"));
  EXPECT_FALSE(domain_pattern_matches("example.com", "www.example.com"));
  EXPECT_FALSE(domain_pattern_matches("example.com", "notexample.com"));
  EXPECT_FALSE(domain_pattern_matches("example.com", "example.co"));
  EXPECT_FALSE(domain_pattern_matches("example.com", ""));
}

TEST(RouteDomainPattern, StarDotIsStrictSubdomains) {
  EXPECT_TRUE(domain_pattern_matches("*.example.com", "www.example.com"));
  EXPECT_TRUE(domain_pattern_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(domain_pattern_matches("*.example.com", "example.com"));
  EXPECT_FALSE(domain_pattern_matches("*.example.com", "badexample.com"));
  EXPECT_FALSE(domain_pattern_matches("*.example.com", "example.com.evil"));
}

TEST(RouteDomainPattern, LeadingDotIsDomainAndSubdomains) {
  EXPECT_TRUE(domain_pattern_matches(".example.com", "example.com"));
  EXPECT_TRUE(domain_pattern_matches(".example.com", "www.example.com"));
  EXPECT_TRUE(domain_pattern_matches(".example.com", "a.b.example.com"));
  EXPECT_FALSE(domain_pattern_matches(".example.com", "badexample.com"));
  EXPECT_FALSE(domain_pattern_matches(".example.com", "example.comm"));
}

TEST(RouteDomainPattern, GlobOverWholeName) {
  EXPECT_TRUE(domain_pattern_matches("ads*.example", "ads1.example"));
  EXPECT_TRUE(domain_pattern_matches("ads*.example", "ads.example"));
  EXPECT_TRUE(domain_pattern_matches("ads*.example", "ads.x.y.example")); // '*' crosses dots
  EXPECT_FALSE(domain_pattern_matches("ads*.example", "xads1.example"));
  EXPECT_TRUE(domain_pattern_matches("*ads*", "myadserver.net"));
  EXPECT_TRUE(domain_pattern_matches("cdn?.example", "cdn1.example"));
  EXPECT_FALSE(domain_pattern_matches("cdn?.example", "cdn.example"));
  EXPECT_FALSE(domain_pattern_matches("cdn?.example", "cdn12.example"));
  EXPECT_TRUE(domain_pattern_matches("*.ex*le.com", "www.example.com")); // not a plain suffix: a glob
  EXPECT_FALSE(domain_pattern_matches("*.ex*le.com", "example.com"));
  EXPECT_TRUE(domain_pattern_matches("a*b*c", "abc"));
  EXPECT_TRUE(domain_pattern_matches("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(domain_pattern_matches("a*b*c", "aXbYcZ"));
}

TEST(RouteDomainPattern, CaseAndTrailingDot) {
  EXPECT_TRUE(domain_pattern_matches("example.com", "EXAMPLE.com."));
  EXPECT_TRUE(domain_pattern_matches("*.example.com", "WWW.Example.Com."));
  EXPECT_TRUE(domain_pattern_matches("Example.COM.", "example.com"));
  EXPECT_TRUE(domain_pattern_matches("ads*", "ADS1.example."));
}

// ---- table: order and default ----------------------------------------------------------------

TEST(RouteTable, FirstMatchWins) {
  auto t = table_from(json::parse(R"([
    {"name": "first",  "match": {"domain": ["example.com"]}, "via": "block"},
    {"name": "second", "match": {"domain": [".example.com"]}, "via": "tor"},
    {"name": "third",  "match": {}, "via": ["office", "tor"]}
  ])"));
  auto d = t.match(to("example.com"));
  EXPECT_EQ(d.rule_index, 0u);
  EXPECT_EQ(d.rule_name(), "first");
  EXPECT_EQ(d.via.kind, Via::Kind::block);
  ASSERT_NE(d.route, nullptr);
  EXPECT_EQ(d.route, &t.routes()[0]);
  EXPECT_FALSE(d.needs_resolution);

  d = t.match(to("www.example.com"));
  EXPECT_EQ(d.rule_index, 1u);
  EXPECT_EQ(d.via.kind, Via::Kind::chain);
  EXPECT_EQ(d.via.chain, std::vector<std::string>{"tor"});

  d = t.match(to("other.org"));
  EXPECT_EQ(d.rule_index, 2u);
  EXPECT_EQ(d.via.chain, (std::vector<std::string>{"office", "tor"}));
  EXPECT_EQ(rule_of(t, to("10.1.2.3")), 2u);
}

TEST(RouteTable, EarlierRuleWinsAcrossIndexKinds) {
  // The rules come from different candidate lists (plain, glob, suffix, exact); order still decides.
  auto t = table_from(json::parse(R"([
    {"match": {"port": ["25"]}, "via": "block"},
    {"match": {"domain": ["mail*"]}, "via": "tor"},
    {"match": {"domain": [".example.com"]}, "via": "office"},
    {"match": {"domain": ["mail.example.com"]}, "via": "direct"},
    {"match": {"port": ["1-65535"]}, "via": "direct"}
  ])"));
  EXPECT_EQ(rule_of(t, to("mail.example.com", 25)), 0u);
  EXPECT_EQ(rule_of(t, to("mail.example.com", 443)), 1u);
  EXPECT_EQ(rule_of(t, to("www.example.com", 443)), 2u);
  EXPECT_EQ(rule_of(t, to("other.org", 443)), 4u);
}

TEST(RouteTable, DefaultWhenNothingMatches) {
  auto t = table_from(json::parse(R"([{"match": {"domain": ["example.com"]}, "via": "block"}])"), "tor");
  auto d = t.match(to("example.org"));
  EXPECT_EQ(d.rule_index, none);
  EXPECT_EQ(d.route, nullptr);
  EXPECT_EQ(d.rule_name(), "default");
  EXPECT_EQ(d.via.kind, Via::Kind::chain);
  EXPECT_EQ(d.via.chain, std::vector<std::string>{"tor"});
  EXPECT_FALSE(d.needs_resolution);
}

TEST(RouteTable, EmptyTableGivesDefault) {
  RouteTable t({}, Via{Via::Kind::block, {}});
  auto d = t.match(to("example.com"));
  EXPECT_EQ(d.rule_index, none);
  EXPECT_EQ(d.via.kind, Via::Kind::block);
  EXPECT_EQ(t.match(to("::1")).rule_index, none);
}

TEST(RouteTable, EmptyMatchIsAny) {
  auto t = table_from(json::parse(R"([{"via": "block"}, {"match": {}, "via": "tor"}])"));
  EXPECT_EQ(rule_of(t, to("example.com")), 0u);
  EXPECT_EQ(rule_of(t, to("192.0.2.1")), 0u);
  EXPECT_EQ(rule_of(t, to("2001:db8::1")), 0u);
}

TEST(RouteTable, MovedTableKeepsRoutePointersValid) {
  auto t = table_from(json::parse(R"([{"name": "r", "match": {"domain": ["a.example"]}, "via": "block"}])"));
  RouteTable moved = std::move(t);
  auto d = moved.match(to("a.example"));
  ASSERT_NE(d.route, nullptr);
  EXPECT_EQ(d.route, &moved.routes()[0]);
  EXPECT_EQ(d.rule_name(), "r");
}

// ---- table: domain matchers ------------------------------------------------------------------

TEST(RouteTable, DomainKinds) {
  auto t = table_from(json::parse(R"([
    {"match": {"domain": ["exact.example"]}, "via": "block"},
    {"match": {"domain": ["*.sub.example"]}, "via": "block"},
    {"match": {"domain": [".both.example"]}, "via": "block"},
    {"match": {"domain": ["glob-*.example"]}, "via": "block"},
    {"match": {"domain": ["c?n.example"]}, "via": "block"}
  ])"));
  EXPECT_EQ(rule_of(t, to("exact.example")), 0u);
  EXPECT_EQ(rule_of(t, to("www.exact.example")), none);
  EXPECT_EQ(rule_of(t, to("sub.example")), none);
  EXPECT_EQ(rule_of(t, to("a.sub.example")), 1u);
  EXPECT_EQ(rule_of(t, to("a.b.sub.example")), 1u);
  EXPECT_EQ(rule_of(t, to("both.example")), 2u);
  EXPECT_EQ(rule_of(t, to("x.both.example")), 2u);
  EXPECT_EQ(rule_of(t, to("notboth.example")), none);
  EXPECT_EQ(rule_of(t, to("glob-1.example")), 3u);
  EXPECT_EQ(rule_of(t, to("glob-a.b.example")), 3u);
  EXPECT_EQ(rule_of(t, to("xglob-1.example")), none);
  EXPECT_EQ(rule_of(t, to("cdn.example")), 4u);
  EXPECT_EQ(rule_of(t, to("cn.example")), none);
  EXPECT_EQ(rule_of(t, to("example")), none);
}

TEST(RouteTable, AnyDomainInTheListMatches) {
  auto t = table_from(json::parse(R"([
    {"match": {"domain": ["a.example", "*.b.example", ".c.example", "d*.example"]}, "via": "block"}
  ])"));
  for (auto host : {"a.example", "x.b.example", "c.example", "x.c.example", "d1.example"})
    EXPECT_EQ(rule_of(t, to(host)), 0u) << host;
  for (auto host : {"b.example", "x.a.example", "e.example"}) EXPECT_EQ(rule_of(t, to(host)), none) << host;
}

TEST(RouteTable, RequestHostIsNormalisedDefensively) {
  auto t = table_from(json::parse(R"([
    {"match": {"domain": ["Exact.Example."]}, "via": "block"},
    {"match": {"domain": ["*.SUB.example"]}, "via": "block"},
    {"match": {"domain": ["GLOB*.example"]}, "via": "block"}
  ])"));
  EXPECT_EQ(rule_of(t, to_raw_domain("EXACT.example.")), 0u);
  EXPECT_EQ(rule_of(t, to_raw_domain("exact.example")), 0u);
  EXPECT_EQ(rule_of(t, to_raw_domain("Www.Sub.Example.")), 1u);
  EXPECT_EQ(rule_of(t, to_raw_domain("GLOBAL.EXAMPLE.")), 2u);
}

TEST(RouteTable, PatternsFromHandBuiltRoutesAreNormalised) {
  Route r;
  r.match.domain = {"*.Example.COM."};
  r.via.kind = Via::Kind::block;
  RouteTable t({r}, Via{});
  EXPECT_EQ(rule_of(t, to("www.example.com")), 0u);
}

TEST(RouteTable, DomainNeverMatchesIpLiteral) {
  auto t = table_from(json::parse(R"([
    {"match": {"domain": ["10.0.0.1", ".0.0.1", "10.*", "*:*"]}, "via": "block"}
  ])"));
  EXPECT_EQ(rule_of(t, to("10.0.0.1")), none);
  EXPECT_EQ(rule_of(t, to("::1")), none);
}

TEST(RouteTable, DomainRuleSkippedForEmptyName) {
  auto t = table_from(json::parse(R"([{"match": {"domain": ["**"]}, "via": "block"}, {"via": "tor"}])"));
  EXPECT_EQ(rule_of(t, to_raw_domain("")), 1u);
  EXPECT_EQ(rule_of(t, to_raw_domain("x")), 0u);
}

// ---- table: CIDR matchers --------------------------------------------------------------------

TEST(RouteTable, CidrIpv4AndIpv6) {
  auto t = table_from(json::parse(R"([
    {"match": {"cidr": ["10.1.0.0/16"]}, "via": "block"},
    {"match": {"cidr": ["10.0.0.0/8", "fd00::/8"]}, "via": "direct"},
    {"match": {"cidr": ["2001:db8::1"]}, "via": "tor"},
    {"match": {"cidr": ["0.0.0.0/0"]}, "via": "office"}
  ])"));
  EXPECT_EQ(rule_of(t, to("10.1.2.3")), 0u);
  EXPECT_EQ(rule_of(t, to("10.2.2.3")), 1u);
  EXPECT_EQ(rule_of(t, to("fd12::1")), 1u);
  EXPECT_EQ(rule_of(t, to("fe00::1")), none);
  EXPECT_EQ(rule_of(t, to("2001:db8::1")), 2u);
  EXPECT_EQ(rule_of(t, to("2001:db8::2")), none);
  EXPECT_EQ(rule_of(t, to("192.0.2.1")), 3u);
  // v4-mapped IPv6 is compared as IPv4.
  EXPECT_EQ(rule_of(t, to("::ffff:10.1.2.3")), 0u);
  EXPECT_EQ(rule_of(t, to("::ffff:192.0.2.1")), 3u);
}

TEST(RouteTable, CidrAgreesWithCidrContains) {
  // A v4-mapped prefix in the config stays IPv6 exactly as Cidr::contains sees it.
  auto t = table_from(json::parse(R"([{"match": {"cidr": ["::ffff:10.0.0.0/104", "::/0"]}, "via": "block"}])"));
  auto c = *Cidr::parse("::ffff:10.0.0.0/104");
  for (auto a : {"10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1"}) {
    bool expected = c.contains(make_address(a)) || Cidr::parse("::/0")->contains(make_address(a));
    EXPECT_EQ(rule_of(t, to(a)) == 0u, expected) << a;
  }
}

TEST(RouteTable, CidrWithoutResolveNeverMatchesDomain) {
  auto t = table_from(json::parse(R"([{"match": {"cidr": ["0.0.0.0/0", "::/0"]}, "via": "block"}])"));
  EXPECT_EQ(rule_of(t, to("example.com")), none);
  std::vector<address> addrs{make_address("192.0.2.1")};
  auto d = t.match(to("example.com"), addrs, true);
  EXPECT_EQ(d.rule_index, none);
  EXPECT_FALSE(d.needs_resolution);
}

TEST(RouteTable, ResolveFlow) {
  auto t = table_from(json::parse(R"([
    {"match": {"domain": ["direct.example"]}, "via": "direct"},
    {"name": "lan", "match": {"cidr": ["10.0.0.0/8", "fd00::/8"]}, "resolve": true, "via": "block"},
    {"match": {"domain": [".example"]}, "via": "tor"}
  ])"));
  // An earlier rule that matches by name needs no resolution.
  EXPECT_EQ(rule_of(t, to("direct.example")), 0u);

  auto d = t.match(to("host.example"));
  EXPECT_TRUE(d.needs_resolution);
  EXPECT_EQ(d.rule_index, 1u);
  EXPECT_EQ(d.rule_name(), "lan");

  std::vector<address> inside{make_address("192.0.2.1"), make_address("10.9.9.9")};
  d = t.match(to("host.example"), inside, true);
  EXPECT_FALSE(d.needs_resolution);
  EXPECT_EQ(d.rule_index, 1u);
  EXPECT_EQ(d.via.kind, Via::Kind::block);

  std::vector<address> inside_v6{make_address("fd00::5")};
  EXPECT_EQ(t.match(to("host.example"), inside_v6, true).rule_index, 1u);
  std::vector<address> mapped{make_address("::ffff:10.0.0.1")};
  EXPECT_EQ(t.match(to("host.example"), mapped, true).rule_index, 1u);

  std::vector<address> outside{make_address("192.0.2.1")};
  d = t.match(to("host.example"), outside, true);
  EXPECT_FALSE(d.needs_resolution);
  EXPECT_EQ(d.rule_index, 2u);

  // Resolution gave nothing: the cidr rule cannot match and is passed over.
  d = t.match(to("host.example"), {}, true);
  EXPECT_FALSE(d.needs_resolution);
  EXPECT_EQ(d.rule_index, 2u);

  // IP literals never need resolution.
  EXPECT_EQ(rule_of(t, to("10.1.1.1")), 1u);
  EXPECT_FALSE(t.match(to("192.0.2.7")).needs_resolution);
}

TEST(RouteTable, ResolveOnlyWhenOtherMatchersMatch) {
  auto t = table_from(json::parse(R"([
    {"match": {"cidr": ["10.0.0.0/8"], "port": ["22"]}, "resolve": true, "via": "block"},
    {"match": {"domain": ["*.example"], "cidr": ["10.0.0.0/8"]}, "resolve": true, "via": "tor"},
    {"via": "office"}
  ])"));
  // Port 443: rule 0 is out before its cidr matters; rule 1 needs resolution for a *.example name.
  auto d = t.match(to("a.example", 443));
  EXPECT_TRUE(d.needs_resolution);
  EXPECT_EQ(d.rule_index, 1u);
  // Another name: rule 1's domain fails, so nothing needs resolving.
  d = t.match(to("a.other", 443));
  EXPECT_FALSE(d.needs_resolution);
  EXPECT_EQ(d.rule_index, 2u);
  // Port 22: rule 0 is reached first.
  d = t.match(to("a.other", 22));
  EXPECT_TRUE(d.needs_resolution);
  EXPECT_EQ(d.rule_index, 0u);

  std::vector<address> lan{make_address("10.0.0.7")};
  EXPECT_EQ(t.match(to("a.example", 443), lan, true).rule_index, 1u);
  EXPECT_EQ(t.match(to("a.other", 443), lan, true).rule_index, 2u);
  EXPECT_EQ(t.match(to("a.other", 22), lan, true).rule_index, 0u);
  // A domain+cidr rule never matches an IP literal.
  EXPECT_EQ(rule_of(t, to("10.0.0.7", 443)), 2u);
}

// ---- table: other matchers -------------------------------------------------------------------

TEST(RouteTable, PortRanges) {
  auto t = table_from(json::parse(R"([
    {"match": {"port": ["80", "8000-8999"]}, "via": "block"},
    {"match": {"port": ["65535"]}, "via": "tor"}
  ])"));
  EXPECT_EQ(rule_of(t, to("a.example", 80)), 0u);
  EXPECT_EQ(rule_of(t, to("a.example", 8000)), 0u);
  EXPECT_EQ(rule_of(t, to("a.example", 8500)), 0u);
  EXPECT_EQ(rule_of(t, to("10.0.0.1", 8999)), 0u);
  EXPECT_EQ(rule_of(t, to("a.example", 9000)), none);
  EXPECT_EQ(rule_of(t, to("a.example", 81)), none);
  EXPECT_EQ(rule_of(t, to("a.example", 65535)), 1u);
}

TEST(RouteTable, Frontend) {
  auto t = table_from(json::parse(R"([{"match": {"frontend": ["http"]}, "via": "block"}])"));
  auto req = to("a.example");
  req.client.frontend = Protocol::http;
  EXPECT_EQ(rule_of(t, req), 0u);
  req.client.frontend = Protocol::socks;
  EXPECT_EQ(rule_of(t, req), none);
}

TEST(RouteTable, Client) {
  auto t = table_from(json::parse(R"([{"match": {"client": ["192.168.0.0/16", "::1"]}, "via": "block"}])"));
  auto req = to("a.example");
  req.client.address = make_address("192.168.4.4");
  EXPECT_EQ(rule_of(t, req), 0u);
  req.client.address = make_address("::ffff:192.168.4.4");
  EXPECT_EQ(rule_of(t, req), 0u);
  req.client.address = make_address("::1");
  EXPECT_EQ(rule_of(t, req), 0u);
  req.client.address = make_address("127.0.0.1");
  EXPECT_EQ(rule_of(t, req), none);
}

TEST(RouteTable, User) {
  auto t = table_from(json::parse(R"([{"match": {"user": ["alice", "bob"]}, "via": "block"}])"));
  auto req = to("a.example");
  EXPECT_EQ(rule_of(t, req), none); // no user never matches
  req.client.user = "bob";
  EXPECT_EQ(rule_of(t, req), 0u);
  req.client.user = "carol";
  EXPECT_EQ(rule_of(t, req), none);
  req.client.user = "Alice"; // names are exact
  EXPECT_EQ(rule_of(t, req), none);
}

TEST(RouteTable, EveryGivenMatcherMustMatch) {
  auto t = table_from(json::parse(R"([
    {"match": {"domain": ["*.corp.example"], "port": ["443"], "frontend": ["socks"],
               "client": ["127.0.0.0/8"], "user": ["alice"]}, "via": "office"}
  ])"));
  auto ok = to("git.corp.example", 443);
  ok.client.user = "alice";
  EXPECT_EQ(rule_of(t, ok), 0u);

  auto r = ok;
  r.target.port = 80;
  EXPECT_EQ(rule_of(t, r), none);
  r = ok;
  r.client.frontend = Protocol::http;
  EXPECT_EQ(rule_of(t, r), none);
  r = ok;
  r.client.address = make_address("10.0.0.1");
  EXPECT_EQ(rule_of(t, r), none);
  r = ok;
  r.client.user = "bob";
  EXPECT_EQ(rule_of(t, r), none);
  r = ok;
  r.target = TargetAddress::from_host("corp.example", 443);
  EXPECT_EQ(rule_of(t, r), none);
}

TEST(RouteTable, CidrAndPortCombined) {
  auto t = table_from(json::parse(R"([
    {"match": {"cidr": ["10.0.0.0/8"], "port": ["22"]}, "via": "block"},
    {"match": {"cidr": ["10.0.0.0/8"]}, "via": "tor"}
  ])"));
  EXPECT_EQ(rule_of(t, to("10.0.0.1", 22)), 0u);
  EXPECT_EQ(rule_of(t, to("10.0.0.1", 23)), 1u);
  EXPECT_EQ(rule_of(t, to("11.0.0.1", 22)), none);
}

TEST(RouteTable, SameRuleFromSeveralIndexesIsCheckedOnce) {
  auto t = table_from(json::parse(R"([
    {"match": {"domain": ["a.example", ".a.example", "*.example", "a.ex*", "a.example"], "port": ["80"]},
     "via": "block"},
    {"via": "tor"}
  ])"));
  EXPECT_EQ(rule_of(t, to("a.example", 80)), 0u);
  EXPECT_EQ(rule_of(t, to("a.example", 81)), 1u);
}

// ---- large tables ----------------------------------------------------------------------------

TEST(RouteTable, HundredThousandRulesSpotChecks) {
  constexpr std::uint32_t n = 100'000;
  std::vector<Route> routes;
  routes.reserve(n + 3);
  for (std::uint32_t i = 0; i < n; ++i) {
    Route r;
    r.name = "r" + std::to_string(i);
    switch (i % 4) {
    case 0: r.match.domain = {"host" + std::to_string(i) + ".example"}; break;
    case 1: r.match.domain = {".zone" + std::to_string(i) + ".example"}; break;
    case 2: r.match.domain = {"*.sub" + std::to_string(i) + ".example"}; break;
    case 3: // 10.x.y.0/24 networks
      r.match.cidr = {*Cidr::parse("10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) +
                                   "." + std::to_string(i & 255) + "/32")};
      break;
    }
    r.via.kind = Via::Kind::block;
    routes.push_back(std::move(r));
  }
  Route glob;
  glob.match.domain = {"late*.example"};
  routes.push_back(glob);
  Route wide;
  wide.match.cidr = {*Cidr::parse("10.0.0.0/8")};
  routes.push_back(wide);
  Route shadowed; // same name as rule 0, later: never wins
  shadowed.match.domain = {"host0.example"};
  routes.push_back(shadowed);

  RouteTable t(std::move(routes), Via{});
  auto ip = [](std::uint32_t i) {
    return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
           std::to_string(i & 255);
  };
  EXPECT_EQ(rule_of(t, to("host0.example")), 0u);
  EXPECT_EQ(rule_of(t, to("host99996.example")), 99'996u);
  EXPECT_EQ(rule_of(t, to("www.host4.example")), none);
  EXPECT_EQ(rule_of(t, to("zone1.example")), 1u);
  EXPECT_EQ(rule_of(t, to("a.b.zone50001.example")), 50'001u);
  EXPECT_EQ(rule_of(t, to("sub99998.example")), none);
  EXPECT_EQ(rule_of(t, to("x.sub99998.example")), 99'998u);
  EXPECT_EQ(rule_of(t, to(ip(3))), 3u);
  EXPECT_EQ(rule_of(t, to(ip(77'779))), 77'779u);
  EXPECT_EQ(rule_of(t, to(ip(77'778))), n + 1);     // no /32 for it: the /8 catches it
  EXPECT_EQ(rule_of(t, to("late1.example")), n);    // the glob after all indexed rules
  EXPECT_EQ(rule_of(t, to("host1.example")), none); // rule 1 is a ".zone" rule
  EXPECT_EQ(rule_of(t, to("missing.example")), none);
  EXPECT_EQ(rule_of(t, to("192.0.2.1")), none);
}

// ---- cross-check against a straightforward linear scan ---------------------------------------

namespace {

/// The semantics written out plainly, rule by rule; the table must agree with it everywhere.
Decision reference_match(const std::vector<Route>& routes, const Request& req,
                         std::span<const address> resolved, bool resolved_given) {
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const auto& m = routes[i].match;
    auto any = [](const auto& list, auto pred) { return list.empty() || std::any_of(list.begin(), list.end(), pred); };
    if (!any(m.port, [&](auto& p) { return p.contains(req.target.port); })) continue;
    if (!any(m.frontend, [&](auto f) { return f == req.client.frontend; })) continue;
    if (!m.user.empty() && (req.client.user.empty() || std::find(m.user.begin(), m.user.end(), req.client.user) == m.user.end()))
      continue;
    if (!any(m.client, [&](auto& c) { return c.contains(req.client.address); })) continue;
    if (!m.domain.empty()) {
      if (!req.target.is_domain()) continue;
      if (!any(m.domain, [&](auto& p) { return domain_pattern_matches(p, req.target.domain); })) continue;
    }
    if (!m.cidr.empty()) {
      if (req.target.is_domain()) {
        if (!routes[i].resolve) continue;
        if (!resolved_given) {
          Decision d;
          d.rule_index = i;
          d.needs_resolution = true;
          return d;
        }
        if (!std::any_of(m.cidr.begin(), m.cidr.end(), [&](auto& c) {
              return std::any_of(resolved.begin(), resolved.end(), [&](auto& a) { return c.contains(a); });
            }))
          continue;
      } else if (!any(m.cidr, [&](auto& c) { return c.contains(*req.target.ip); })) {
        continue;
      }
    }
    Decision d;
    d.rule_index = i;
    return d;
  }
  return {};
}

} // namespace

TEST(RouteTable, AgreesWithLinearScanOnRandomTables) {
  std::mt19937 rng(20240611);
  auto pick = [&](auto const& v) { return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)]; };
  auto chance = [&](int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; };
  const std::vector<std::string> labels{"a", "b", "ab", "www", "ex"};
  auto random_name = [&] {
    std::string s = pick(labels);
    for (int k = std::uniform_int_distribution<int>(0, 3)(rng); k > 0; --k) s = pick(labels) + "." + s;
    return s;
  };
  // Request names as a client may send them: some upper case, some with a trailing dot.
  auto noisy = [&](std::string s) {
    if (chance(15)) s[0] = static_cast<char>(s[0] - 'a' + 'A');
    if (chance(15)) s += '.';
    return s;
  };
  const std::vector<std::string> globs{"*a", "a*", "?.a", "*.a*", "w*.b", "*b*", "a?b", "*.?"};
  const std::vector<std::string> v4_nets{"10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "10.1.1.1/32", "0.0.0.0/0",
                                         "192.168.0.0/16"};
  const std::vector<std::string> v6_nets{"fd00::/8", "fd00:1::/32", "::/0", "2001:db8::1/128",
                                         "::ffff:10.0.0.0/104"};
  const std::vector<std::string> addrs{"10.0.0.1",         "10.1.0.1",  "10.1.1.1",   "10.1.1.2", "192.168.3.3",
                                       "8.8.8.8",          "fd00::1",   "fd00:1::5",  "2001:db8::1",
                                       "::ffff:10.1.1.1",  "::1"};

  int needs_resolution_seen = 0, matched_seen = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<Route> routes;
    for (int i = std::uniform_int_distribution<int>(0, 12)(rng); i > 0; --i) {
      Route r;
      if (chance(60))
        for (int k = std::uniform_int_distribution<int>(1, 3)(rng); k > 0; --k) {
          switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
          case 0: r.match.domain.push_back(random_name()); break;
          case 1: r.match.domain.push_back("*." + random_name()); break;
          case 2: r.match.domain.push_back("." + random_name()); break;
          case 3: r.match.domain.push_back(pick(globs)); break;
          }
        }
      if (chance(35))
        for (int k = std::uniform_int_distribution<int>(1, 2)(rng); k > 0; --k)
          r.match.cidr.push_back(*Cidr::parse(chance(60) ? pick(v4_nets) : pick(v6_nets)));
      if (chance(20)) r.match.port.push_back({80, 443});
      if (chance(10)) r.match.frontend.push_back(Protocol::http);
      if (chance(10)) r.match.user.push_back("alice");
      if (chance(10)) r.match.client.push_back(*Cidr::parse("127.0.0.0/8"));
      r.resolve = chance(50);
      routes.push_back(std::move(r));
    }
    RouteTable t(routes, Via{});
    for (int q = 0; q < 60; ++q) {
      Request req = chance(60) ? to_raw_domain(noisy(random_name())) : to(pick(addrs));
      req.target.port = chance(50) ? 443 : 22;
      req.client.frontend = chance(50) ? Protocol::http : Protocol::socks;
      req.client.user = chance(50) ? "alice" : "";
      req.client.address = make_address(chance(80) ? "127.0.0.1" : "10.0.0.1");
      std::vector<address> resolved;
      for (int k = std::uniform_int_distribution<int>(0, 2)(rng); k > 0; --k) resolved.push_back(make_address(pick(addrs)));
      for (bool given : {false, true}) {
        auto want = reference_match(routes, req, resolved, given);
        auto got = t.match(req, resolved, given);
        ASSERT_EQ(got.rule_index, want.rule_index) << "round " << round << " host " << req.target.host();
        ASSERT_EQ(got.needs_resolution, want.needs_resolution) << "round " << round;
        ASSERT_EQ(got.route, want.rule_index == none ? nullptr : &t.routes()[want.rule_index]);
        needs_resolution_seen += got.needs_resolution;
        matched_seen += got.rule_index != none && !got.needs_resolution;
      }
    }
  }
  // The random tables did exercise both outcomes.
  EXPECT_GT(needs_resolution_seen, 100);
  EXPECT_GT(matched_seen, 1000);
}
