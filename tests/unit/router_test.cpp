// routing::decide: the rule, the route's refusals per command, and where names are resolved.
#include "hopgate/config/loader.hpp"
#include "hopgate/routing/router.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace hopgate;
using nlohmann::json;
using routing::Command;
using routing::TargetDns;
using Refusal = routing::Verdict::Refusal;

namespace {

std::shared_ptr<const routing::Snapshot> snapshot_of(const json& upstreams, const json& routes, const char* default_via = "direct") {
  json doc = {{"listeners", {{"socks", {{"listen", {"127.0.0.1:1080"}}}}}},
              {"users", json::array({{{"name", "alice"}, {"password", "secret"}}, {{"name", "bob"}, {"password", "secret"}}})},
              {"upstreams", upstreams},
              {"routes", routes},
              {"default", {{"via", default_via}}}};
  auto r = config::load_config(doc);
  if (!r.ok()) {
    std::string why;
    for (auto& e : r.errors) why += e.path + ": " + e.message + "\n";
    throw std::runtime_error("bad test config: " + why);
  }
  return routing::Snapshot::make(std::make_shared<const config::Config>(*r.config), 1);
}

routing::Request to(const std::string& host_port, Command command = Command::connect, const std::string& user = "") {
  return routing::Request{*TargetAddress::parse(host_port),
                          {boost::asio::ip::make_address("127.0.0.1"), user, {}, config::Protocol::socks, {}}, command};
}

const json upstreams = {{"tor", "socks5h://127.0.0.1:9050"},
                        {"plain", "socks5://proxy.example:1080"},
                        {"v4", "socks4://127.0.0.1:1081"},
                        {"web", "http://127.0.0.1:3128"},
                        {"via-tor", {{"chain", {"tor", "plain"}}}},
                        {"pool", {{"group", {"plain", "tor"}}}}};

} // namespace

TEST(Router, DirectNameIsResolvedHereAndAnIpIsNotAName) {
  auto s = snapshot_of(upstreams, json::array());
  auto v = routing::decide(*s, to("example.com:443"));
  EXPECT_EQ(v.rule_name(), "default");
  EXPECT_EQ(v.refusal, Refusal::none);
  EXPECT_EQ(v.target_dns, TargetDns::local);
  EXPECT_EQ(routing::local_lookups(*s->config, v, *TargetAddress::parse("example.com:443")), std::vector<std::string>{"example.com"});
  auto ip = routing::decide(*s, to("192.0.2.1:443"));
  EXPECT_EQ(ip.target_dns, TargetDns::not_a_name);
  EXPECT_TRUE(routing::local_lookups(*s->config, ip, *TargetAddress::parse("192.0.2.1:443")).empty());
}

TEST(Router, RemoteDnsHopGetsTheNameUnresolved) {
  auto s = snapshot_of(upstreams, json::array({{{"match", {{"domain", {".onion"}}}}, {"via", "tor"}}}));
  auto v = routing::decide(*s, to("abc.onion:80"));
  EXPECT_EQ(v.target_dns, TargetDns::remote);
  EXPECT_TRUE(v.remote_dns_required); // .onion, whatever the rule says
  auto positions = routing::chain_positions(*s->config, v);
  ASSERT_EQ(positions.size(), 1u);
  EXPECT_EQ(*positions[0].name, "tor");
  EXPECT_TRUE(routing::local_lookups(*s->config, v, *TargetAddress::parse("abc.onion:80")).empty()) << "127.0.0.1 is an address: no lookup for the hop either";
}

TEST(Router, OnionOnADirectRouteIsRefusedNotResolved) {
  auto s = snapshot_of(upstreams, json::array());
  auto v = routing::decide(*s, to("abc.onion:80"));
  EXPECT_EQ(v.target_dns, TargetDns::refused);
  EXPECT_TRUE(routing::local_lookups(*s->config, v, *TargetAddress::parse("abc.onion:80")).empty());
}

TEST(Router, AddressOnlyLastHopResolvesHereUnlessRemoteDnsIsRequired) {
  auto s = snapshot_of(upstreams, json::array({
                                      {{"match", {{"domain", {"strict.example"}}}}, {"via", "plain"}, {"remote_dns", "required"}},
                                      {{"match", {{"domain", {"loose.example"}}}}, {"via", "plain"}},
                                  }));
  auto strict = routing::decide(*s, to("strict.example:443"));
  EXPECT_EQ(strict.target_dns, TargetDns::refused);
  EXPECT_EQ(strict.remote_dns, config::RemoteDns::required);
  auto loose = routing::decide(*s, to("loose.example:443"));
  EXPECT_EQ(loose.target_dns, TargetDns::local);
  // The hop's own name is looked up too, after the target's (the admin API's order).
  EXPECT_EQ(routing::local_lookups(*s->config, loose, *TargetAddress::parse("loose.example:443")), (std::vector<std::string>{"loose.example", "proxy.example"}));
}

TEST(Router, NamedChainAndGroupStandForTheirHops) {
  auto s = snapshot_of(upstreams, json::array({
                                      {{"match", {{"domain", {"chain.example"}}}}, {"via", "via-tor"}},
                                      {{"match", {{"domain", {"group.example"}}}}, {"via", "pool"}},
                                  }));
  auto chain = routing::decide(*s, to("chain.example:443"));
  auto chain_hops = routing::chain_positions(*s->config, chain);
  ASSERT_EQ(chain_hops.size(), 1u);
  ASSERT_EQ(chain_hops[0].hops.size(), 2u);
  // The last hop (socks5://) takes addresses: hopgate resolves the target. proxy.example comes
  // after a socks5h hop, which is handed the name: not looked up here.
  EXPECT_EQ(chain.target_dns, TargetDns::local);
  EXPECT_EQ(routing::local_lookups(*s->config, chain, *TargetAddress::parse("chain.example:443")), std::vector<std::string>{"chain.example"});
  auto group = routing::decide(*s, to("group.example:443"));
  auto group_hops = routing::chain_positions(*s->config, group);
  ASSERT_EQ(group_hops.size(), 1u);
  ASSERT_EQ(group_hops[0].hops.size(), 1u);
  EXPECT_EQ(group_hops[0].hops[0]->host, "proxy.example"); // the first member
  EXPECT_EQ(group.target_dns, TargetDns::local);
}

TEST(Router, PortAndBlockRefusalsComeBeforeAnyLookup) {
  auto s = snapshot_of(upstreams, json::array({
                                      {{"match", {{"domain", {"ports.example"}}}}, {"via", "direct"}, {"allow_ports", {"443"}}},
                                      {{"match", {{"domain", {"blocked.example"}}}}, {"via", "block"}},
                                  }));
  EXPECT_EQ(routing::decide(*s, to("ports.example:443")).refusal, Refusal::none);
  auto port = routing::decide(*s, to("ports.example:80"));
  EXPECT_EQ(port.refusal, Refusal::port_not_allowed);
  EXPECT_EQ(port.target_dns, TargetDns::not_reached);
  EXPECT_TRUE(routing::local_lookups(*s->config, port, *TargetAddress::parse("ports.example:80")).empty());
  EXPECT_EQ(routing::decide(*s, to("blocked.example:443")).refusal, Refusal::blocked);
  // A BIND's port 0 names no port: any peer port is expected, so allow_ports does not refuse it.
  EXPECT_EQ(routing::decide(*s, to("ports.example:0", Command::bind)).refusal, Refusal::none);
}

TEST(Router, CommandsNeedALastHopThatCanCarryThem) {
  auto s = snapshot_of(upstreams, json::array({
                                      {{"match", {{"port", {"1"}}}}, {"via", "web"}},
                                      {{"match", {{"port", {"2"}}}}, {"via", "v4"}},
                                      {{"match", {{"port", {"3"}}}}, {"via", "tor"}},
                                  }));
  EXPECT_EQ(routing::decide(*s, to("10.0.0.1:1", Command::bind)).refusal, Refusal::command_not_supported);
  EXPECT_EQ(routing::decide(*s, to("10.0.0.1:1", Command::connect)).refusal, Refusal::none);
  EXPECT_EQ(routing::decide(*s, to("10.0.0.1:2", Command::bind)).refusal, Refusal::none);
  EXPECT_EQ(routing::decide(*s, to("10.0.0.1:2", Command::udp_associate)).refusal, Refusal::command_not_supported);
  EXPECT_EQ(routing::decide(*s, to("10.0.0.1:3", Command::udp_associate)).refusal, Refusal::none);
  EXPECT_EQ(routing::decide(*s, to("10.0.0.1:4", Command::udp_associate)).refusal, Refusal::none); // default direct
}

TEST(Router, UdpIsPossibleWhenARuleForThisClientCarriesIt) {
  auto s = snapshot_of(upstreams, json::array({{{"match", {{"user", {"alice"}}}}, {"via", "tor"}}}), "block");
  routing::Client alice{boost::asio::ip::make_address("127.0.0.1"), "alice", {}, config::Protocol::socks, {}};
  routing::Client bob = alice;
  bob.user = "bob";
  EXPECT_TRUE(routing::udp_possible(*s, alice));
  EXPECT_FALSE(routing::udp_possible(*s, bob));
  auto http_only = snapshot_of(upstreams, json::array({{{"match", {{"frontend", {"http"}}}}, {"via", "direct"}}}), "block");
  EXPECT_FALSE(routing::udp_possible(*http_only, alice)) << "the rule is for the HTTP front end only";
}

TEST(Router, ResolveRuleAsksForTheAddressesFirst) {
  auto s = snapshot_of(upstreams, json::array({{{"match", {{"cidr", {"10.0.0.0/8"}}}}, {"resolve", true}, {"via", "block"}}}));
  auto first = routing::decide(*s, to("intranet.example:443"));
  EXPECT_TRUE(first.needs_resolution());
  EXPECT_EQ(first.target_dns, TargetDns::local);
  boost::asio::ip::address inside[] = {boost::asio::ip::make_address("10.1.2.3")};
  EXPECT_EQ(routing::decide(*s, to("intranet.example:443"), inside, true).refusal, Refusal::blocked);
  boost::asio::ip::address outside[] = {boost::asio::ip::make_address("192.0.2.7")};
  EXPECT_EQ(routing::decide(*s, to("intranet.example:443"), outside, true).rule_name(), "default");
}

TEST(Router, FrontendMatchesTheProtocolOrTheListenersName) {
  json doc = {{"listeners",
               {{"socks", {{"listen", {"127.0.0.1:1080"}}}},
                {"lan", {{"kind", "http"}, {"listen", {"127.0.0.1:8118"}}}},
                {"tls-socks", {{"kind", "socks"}, {"listen", {"127.0.0.1:1443"}}}}}},
              {"routes", json::array({{{"name", "by-name"}, {"match", {{"frontend", {"lan", "tls-socks"}}}}, {"via", "block"}},
                                      {{"name", "by-protocol"}, {"match", {{"frontend", "http"}}}, {"via", "direct"}}})},
              {"default", {{"via", "direct"}}}};
  auto r = config::load_config(doc);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->routes[0].match.listener, (std::vector<std::string>{"lan", "tls-socks"}));
  EXPECT_TRUE(r.config->routes[0].match.frontend.empty());
  auto s = routing::Snapshot::make(std::make_shared<const config::Config>(*r.config), 1);
  auto from = [&](config::Protocol p, const std::string& listener) {
    routing::Request req{*TargetAddress::parse("example.com:80"),
                         {boost::asio::ip::make_address("127.0.0.1"), {}, {}, p, listener}, Command::connect};
    return routing::decide(*s, req).rule_name();
  };
  EXPECT_EQ(from(config::Protocol::http, "lan"), "by-name");
  EXPECT_EQ(from(config::Protocol::socks, "tls-socks"), "by-name");
  EXPECT_EQ(from(config::Protocol::http, "http"), "by-protocol");  // the listener named http: a protocol in routes
  EXPECT_EQ(from(config::Protocol::http, "mixed"), "by-protocol"); // HTTP on any other listener
  EXPECT_EQ(from(config::Protocol::socks, "socks"), "default");
  EXPECT_EQ(from(config::Protocol::socks, ""), "default");
}
