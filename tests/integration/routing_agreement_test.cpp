// The admin API's route explanation and the real dial agree (issue 16): a table of targets is
// asked of GET /api/v1/route and then requested through hopgate, from the SOCKS and the HTTP
// front end. What the admin API says (the rule, the hop that gets the request, whether hopgate
// resolves the name itself, whether the request is refused) is compared with what happened:
// which recording SOCKS5 upstream was asked and with a name or an address, how many queries
// the test's DNS server got for the name, and whether the origin was reached.
#include "routing_test_common.hpp"

#include <gtest/gtest.h>

using namespace hopgate::test;
using namespace hopgate::test::rt;

namespace {

struct Observed {
  std::string upstream;     ///< the recording upstream that was asked ("" none)
  bool upstream_got_name = false;
  bool origin_reached = false;
  bool resolved_locally = false; ///< the test's DNS server saw a query for the name
  bool ok = false;               ///< the client got an answer
};

std::string describe(const json& explained) { return explained.dump(); }

} // namespace

TEST(RoutingAgreement, AdminRouteAnswerMatchesTheRealDial) {
  CountingDns dns; // answers every A query with 127.0.0.1
  HttpOrigin origin;
  RecordingSocks5 remote_hop, local_hop;
  json upstreams = {{"h", "socks5h://" + remote_hop.address()},
                    {"s", "socks5://" + local_hop.address()},
                    {"pool", {{"group", {"s", "h"}}, {"strategy", "failover"}}}};
  const std::string direct_onion = "facebookwkhpilnemxj7asaniu7vnjjbiltxjqhye3mhbshg7kx5tfyd.onion";
  json routes = json::array({
      {{"name", "direct-onion"}, {"match", {{"domain", {direct_onion}}}}, {"via", "direct"}},
      {{"name", "remote"}, {"match", {{"domain", {".remote.test", ".onion"}}}}, {"via", "h"}},
      {{"name", "local"}, {"match", {{"domain", {".local.test"}}}}, {"via", "s"}},
      {{"name", "strict"}, {"match", {{"domain", {".strict.test"}}}}, {"via", "s"}, {"remote_dns", "required"}},
      {{"name", "grouped"}, {"match", {{"domain", {".group.test"}}}}, {"via", "pool"}},
      {{"name", "ports"}, {"match", {{"domain", {".ports.test"}}}}, {"via", "direct"}, {"allow_ports", {"1"}}},
      {{"name", "blocked"}, {"match", {{"domain", {".blocked.test"}}}}, {"via", "block"}},
  });
  HopgateProcess hg(gateway_config(upstreams, routes, "direct", {{"dns", {{"servers", {dns.address()}}}}}));

  const std::vector<std::string> hosts = {"a.remote.test", "b.local.test", "c.strict.test", "d.group.test",
                                          "e.ports.test",  "f.blocked.test", "g.plain.test", "127.0.0.1",
                                          "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion", direct_onion};
  int compared = 0;
  for (auto client : {Client::socks5_hostname, Client::http_forward}) {
    const char* frontend = client == Client::http_forward ? "http" : "socks";
    for (const auto& base : hosts) {
      // A fresh name per front end: the resolver's cache must not hide the second lookup.
      std::string host = base;
      if (base != "127.0.0.1" && !base.ends_with(".onion")) host = std::string(frontend) + "." + base;
      SCOPED_TRACE(std::string(frontend) + " " + host);
      auto target = authority(host, origin.port());
      auto r = admin_get(hg, "/api/v1/route?target=" + target + "&frontend=" + frontend);
      ASSERT_EQ(r.status, 200) << r.body;
      auto explained = json::parse(r.body);

      auto before_remote = remote_hop.requests().size(), before_local = local_hop.requests().size();
      auto before_origin = origin.requests();
      auto got = fetch(client, hg, "http://" + target + "/hello", "", 10s);
      Observed seen;
      seen.ok = got.ok() && (got.out == RecordingSocks5::kBody || got.out == "hello from origin\n");
      seen.origin_reached = origin.requests() > before_origin;
      seen.resolved_locally = dns.queries(host) > 0;
      for (auto [hop, before, name] : {std::tuple{&remote_hop, before_remote, "h"}, std::tuple{&local_hop, before_local, "s"}}) {
        auto reqs = hop->requests();
        if (reqs.size() > before) {
          EXPECT_TRUE(seen.upstream.empty()) << "two upstreams were asked";
          seen.upstream = name;
          seen.upstream_got_name = reqs.back().atyp == 3;
          if (seen.upstream_got_name) {
            EXPECT_EQ(reqs.back().host, host);
          }
        }
      }

      // The rule: the access log names it for the connection.
      std::string rule = explained["rule"]["name"];
      EXPECT_TRUE(eventually([&] { return contains(hg.log(), "target=" + target + " route=" + rule + " "); }, 5s))
          << "the log does not show route " << rule << " for " << target << "\n" << describe(explained);

      const auto& dnsj = explained["dns"];
      bool refused = dnsj.value("refused", false) || explained["action"] == "block" || !explained.value("port_allowed", true);
      // Refused: nothing reached, nothing resolved.
      EXPECT_EQ(refused, !seen.ok) << describe(explained) << "\n" << got.describe();
      if (refused) {
        EXPECT_TRUE(seen.upstream.empty() && !seen.origin_reached) << describe(explained);
      }
      // Local resolution: the admin API's answer is what the DNS server saw.
      EXPECT_EQ(dnsj["target_resolved_locally"].get<bool>(), seen.resolved_locally) << describe(explained) << "\n" << dns.describe();
      // The hop: the admin API's chain is the upstream that was asked (a group: its first choice).
      std::string first_hop;
      if (!explained["hops"].empty()) first_hop = explained["hops"][0]["name"];
      if (first_hop == "pool") first_hop = "s"; // failover: the first member while it is healthy
      if (!refused) {
        EXPECT_EQ(first_hop, seen.upstream) << describe(explained);
        EXPECT_EQ(first_hop.empty(), seen.origin_reached) << describe(explained);
        if (!seen.upstream.empty()) {
          EXPECT_EQ(seen.upstream_got_name, !dnsj["target_resolved_locally"].get<bool>());
        }
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, 20);
  // The table covers each answer at least once: the comparison is not vacuous.
  EXPECT_GE(dns.total(), 1);
  EXPECT_GE(remote_hop.requests().size(), 2u);
  EXPECT_GE(local_hop.requests().size(), 2u);
}
