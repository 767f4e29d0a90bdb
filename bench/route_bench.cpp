// Route selection cost against table size. Every table holds N domain rules (a mix of exact,
// "*." and "." suffix patterns), a few CIDR rules and a catch-all user rule at the end, so a
// miss walks the whole candidate path. Run: hopgate_route_bench [--benchmark_filter=...]
#include "hopgate/routing/route_table.hpp"

#include <benchmark/benchmark.h>
#include <map>
#include <string>

using hopgate::Cidr;
using hopgate::TargetAddress;
using hopgate::config::Route;
using hopgate::config::Via;
using hopgate::routing::Request;
using hopgate::routing::RouteTable;

namespace {

std::vector<Route> make_routes(std::size_t n) {
  std::vector<Route> routes;
  routes.reserve(n + 6);
  // A few CIDR rules first, as in a typical config ("LAN goes direct").
  for (const char* net : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8"}) {
    Route r;
    r.match.cidr = {*Cidr::parse(net)};
    r.via.kind = Via::Kind::direct;
    routes.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < n; ++i) {
    Route r;
    auto id = std::to_string(i);
    switch (i % 3) {
    case 0: r.match.domain = {"site" + id + ".example"}; break;
    case 1: r.match.domain = {".zone" + id + ".example"}; break;
    case 2: r.match.domain = {"*.sub" + id + ".example"}; break;
    }
    r.via.kind = Via::Kind::block;
    routes.push_back(std::move(r));
  }
  Route user; // never matches in these requests (no user), so a miss reaches the default
  user.match.user = {"alice"};
  routes.push_back(std::move(user));
  return routes;
}

const RouteTable& table(std::size_t n) {
  // Built once per size: benchmark calls each function several times while it calibrates.
  static std::map<std::size_t, RouteTable> tables;
  auto it = tables.find(n);
  if (it == tables.end()) it = tables.emplace(n, RouteTable(make_routes(n), Via{})).first;
  return it->second;
}

Request request(std::string_view host, std::uint16_t port = 443) {
  Request req;
  req.target = TargetAddress::from_host(host, port);
  req.client.address = boost::asio::ip::make_address("127.0.0.1");
  return req;
}

void run(benchmark::State& state, const RouteTable& t, const Request& req, std::size_t expect_rule) {
  if (t.match(req).rule_index != expect_rule) {
    state.SkipWithError("unexpected rule");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(t.match(req));
}

// Exact hit on a rule in the middle of the table.
void BM_match_exact_hit(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  auto i = (n / 2) / 3 * 3; // a "siteI" rule
  run(state, table(n), request("site" + std::to_string(i) + ".example"), 4 + i);
}

// Suffix hit: a three-label subdomain of a ".zoneI" rule near the end of the table.
void BM_match_suffix_hit(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  auto i = (n - 1) / 3 * 3 + 1 < n ? (n - 1) / 3 * 3 + 1 : (n - 1) / 3 * 3 - 2;
  run(state, table(n), request("img.www.zone" + std::to_string(i) + ".example"), 4 + i);
}

// Miss: no domain rule matches, the default applies.
void BM_match_domain_miss(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  run(state, table(n), request("img.www.nowhere.invalid"), hopgate::routing::Decision::default_rule);
}

// IP literal inside one of the CIDR rules.
void BM_match_cidr_hit(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  run(state, table(n), request("192.168.1.20"), 2);
}

// IP literal outside every CIDR rule.
void BM_match_cidr_miss(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  run(state, table(n), request("198.51.100.7"), hopgate::routing::Decision::default_rule);
}

// For comparison: the same miss found by scanning every rule's patterns in order.
void BM_linear_scan_domain_miss(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  const auto& routes = table(n).routes();
  std::string host = "img.www.nowhere.invalid";
  for (auto _ : state) {
    std::size_t hit = routes.size();
    for (std::size_t i = 0; i < routes.size() && hit == routes.size(); ++i)
      for (const auto& p : routes[i].match.domain)
        if (hopgate::routing::domain_pattern_matches(p, host)) hit = i;
    benchmark::DoNotOptimize(hit);
  }
}

} // namespace

BENCHMARK(BM_match_exact_hit)->Arg(10)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_match_suffix_hit)->Arg(10)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_match_domain_miss)->Arg(10)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_match_cidr_hit)->Arg(10)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_match_cidr_miss)->Arg(10)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_linear_scan_domain_miss)->Arg(10)->Arg(10'000)->Arg(100'000);

BENCHMARK_MAIN();
