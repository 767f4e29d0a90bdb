// Rule matching, differential: the compiled RouteTable (tries, CIDR indexes, k-way merge) must
// give the same decision as a plain first-match scan over the rules, written here from the
// documented meaning of each matcher. The input builds a handful of rules and one request.
// The Router's decide() then runs on the same rules with upstreams of every kind (hops of each
// scheme, named chains, groups, missing names): it agrees with the table, and what it says about
// DNS holds together.
#include "fuzz_common.hpp"
#include "hopgate/core/cidr.hpp"
#include "hopgate/routing/route_table.hpp"
#include "hopgate/routing/router.hpp"

#include <algorithm>
#include <fuzzer/FuzzedDataProvider.h>

using namespace hopgate;
using namespace hopgate::fuzz;
using boost::asio::ip::address;

namespace {

const char* const kNames[] = {"example.com", "www.example.com", "a.b.example.com", "example.org", "onion",
                              "x.onion", "localhost", "com", "example.com.evil", "xn--bcher-kva.example"};
const char* const kPatterns[] = {"example.com", "*.example.com", ".example.com", "*.onion", ".onion", "ex*.com",
                                 "?.onion", "*", "com", "*example*", "www.example.com", "*.b.example.com"};
const char* const kCidrs[] = {"10.0.0.0/8", "10.1.0.0/16", "127.0.0.1", "0.0.0.0/0", "::/0", "fd00::/8",
                              "::1", "192.168.1.0/24", "10.1.2.3/32", "::ffff:10.0.0.0/104"};
const char* const kIps[] = {"10.1.2.3", "10.9.9.9", "127.0.0.1", "192.168.1.7", "8.8.8.8", "::1", "fd00::5", "2001:db8::1",
                            "::ffff:10.1.2.3"};

address ip(FuzzedDataProvider& f) {
  if (f.ConsumeBool()) return boost::asio::ip::make_address(kIps[f.ConsumeIntegralInRange<std::size_t>(0, std::size(kIps) - 1)]);
  if (f.ConsumeBool()) return boost::asio::ip::address_v4(f.ConsumeIntegral<std::uint32_t>());
  boost::asio::ip::address_v6::bytes_type b{};
  for (auto& x : b) x = f.ConsumeIntegral<std::uint8_t>();
  return boost::asio::ip::address_v6(b);
}

Cidr cidr(FuzzedDataProvider& f) {
  if (f.ConsumeBool()) return *Cidr::parse(kCidrs[f.ConsumeIntegralInRange<std::size_t>(0, std::size(kCidrs) - 1)]);
  auto a = ip(f);
  auto bits = a.is_v4() ? 32 : 128;
  auto text = a.to_string() + "/" + std::to_string(f.ConsumeIntegralInRange<int>(0, bits));
  return *Cidr::parse(text);
}

std::string name(FuzzedDataProvider& f) {
  if (f.ConsumeBool()) return kNames[f.ConsumeIntegralInRange<std::size_t>(0, std::size(kNames) - 1)];
  return f.ConsumeRandomLengthString(24);
}

std::string pattern(FuzzedDataProvider& f) {
  if (f.ConsumeBool()) return kPatterns[f.ConsumeIntegralInRange<std::size_t>(0, std::size(kPatterns) - 1)];
  auto p = normalize_host(f.ConsumeRandomLengthString(16));
  return p.empty() || p == "*" || p == "." ? "example.com" : p; // what the loader lets through
}

/// The reference: the first rule whose every matcher matches.
routing::Decision reference(const std::vector<config::Route>& routes, const config::Via& def, const routing::Request& req,
                            std::span<const address> resolved, bool resolved_given) {
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const auto& m = routes[i].match;
    const auto& t = req.target;
    auto any_port = [&] { return std::any_of(m.port.begin(), m.port.end(), [&](auto& r) { return r.contains(t.port); }); };
    if (!m.port.empty() && !any_port()) continue;
    if (!m.frontend.empty() && std::find(m.frontend.begin(), m.frontend.end(), req.client.frontend) == m.frontend.end()) continue;
    if (!m.user.empty() && (req.client.user.empty() || std::find(m.user.begin(), m.user.end(), req.client.user) == m.user.end())) continue;
    if (!m.client.empty() && std::none_of(m.client.begin(), m.client.end(), [&](auto& c) { return c.contains(req.client.address); }))
      continue;
    if (!m.domain.empty()) {
      auto host = normalize_host(t.domain);
      if (!t.is_domain() || host.empty()) continue;
      if (std::none_of(m.domain.begin(), m.domain.end(), [&](auto& p) { return routing::domain_pattern_matches(p, host); }))
        continue;
    }
    if (!m.cidr.empty()) {
      if (t.is_domain()) {
        if (!routes[i].resolve) continue;
        if (!resolved_given) {
          routing::Decision d;
          d.rule_index = i;
          d.route = &routes[i];
          d.needs_resolution = true;
          return d;
        }
        bool hit = false;
        for (auto& a : resolved)
          for (auto& c : m.cidr) hit = hit || c.contains(a);
        if (!hit) continue;
      } else if (std::none_of(m.cidr.begin(), m.cidr.end(), [&](auto& c) { return c.contains(*t.ip); })) {
        continue;
      }
    }
    routing::Decision d;
    d.rule_index = i;
    d.route = &routes[i];
    d.via = routes[i].via;
    return d;
  }
  routing::Decision d;
  d.via = def;
  return d;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider f(data, size);
  std::vector<config::Route> routes(f.ConsumeIntegralInRange<std::size_t>(0, 12));
  for (std::size_t i = 0; i < routes.size(); ++i) {
    auto& r = routes[i];
    r.name = "r" + std::to_string(i);
    r.via.kind = config::Via::Kind::chain;
    r.via.chain = {"u" + std::to_string(i)};
    r.resolve = f.ConsumeBool();
    auto n = [&] { return f.ConsumeIntegralInRange<int>(0, 3) == 0 ? f.ConsumeIntegralInRange<int>(1, 3) : 0; };
    for (int k = n(); k > 0; --k) r.match.domain.push_back(pattern(f));
    for (int k = n(); k > 0; --k) r.match.cidr.push_back(cidr(f));
    for (int k = n(); k > 0; --k) {
      auto a = f.ConsumeIntegralInRange<std::uint16_t>(1, 65535), b = f.ConsumeIntegralInRange<std::uint16_t>(1, 65535);
      r.match.port.push_back({std::min(a, b), std::max(a, b)});
    }
    for (int k = n(); k > 0; --k) r.match.frontend.push_back(f.ConsumeBool() ? config::Protocol::http : config::Protocol::socks);
    for (int k = n(); k > 0; --k) r.match.client.push_back(cidr(f));
    for (int k = n(); k > 0; --k) r.match.user.push_back(f.ConsumeBool() ? "alice" : "bob");
  }
  config::Via def;
  routing::RouteTable table(routes, def);

  routing::Request req;
  if (f.ConsumeBool()) req.target = TargetAddress::from_ip(ip(f), f.ConsumeIntegral<std::uint16_t>());
  else req.target = TargetAddress::from_host(name(f), f.ConsumeIntegral<std::uint16_t>());
  req.client.frontend = f.ConsumeBool() ? config::Protocol::http : config::Protocol::socks;
  req.client.address = ip(f);
  req.client.user = f.ConsumeBool() ? "" : (f.ConsumeBool() ? "alice" : "carol");
  std::vector<address> resolved(f.ConsumeIntegralInRange<std::size_t>(0, 3));
  for (auto& a : resolved) a = ip(f);
  bool given = f.ConsumeBool();

  auto got = table.match(req, resolved, given);
  auto want = reference(routes, def, req, resolved, given);
  FUZZ_CHECK(got.rule_index == want.rule_index);
  FUZZ_CHECK(got.needs_resolution == want.needs_resolution);
  FUZZ_CHECK(got.via.kind == want.via.kind && got.via.chain == want.via.chain);

  // Upstream u<i> for each rule: a hop of some scheme, a chain of two other names, a group, or absent.
  auto cfg = std::make_shared<config::Config>();
  cfg->routes = routes;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    config::Upstream u{"u" + std::to_string(i), config::Hop{}};
    auto other = [&] { return "u" + std::to_string(f.ConsumeIntegralInRange<std::size_t>(0, routes.size())); };
    switch (f.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: {
      config::Hop h;
      h.scheme = static_cast<config::Hop::Scheme>(f.ConsumeIntegralInRange<int>(0, 4));
      h.host = f.ConsumeBool() ? "127.0.0.1" : "proxy.example";
      h.port = 1080;
      u.kind = h;
      break;
    }
    case 1: u.kind = config::Chain{{other(), other()}}; break;
    case 2: {
      config::Group g;
      g.members = {other(), other()};
      u.kind = g;
      break;
    }
    default: continue; // not configured: the Router must cope
    }
    cfg->upstreams.push_back(std::move(u));
  }
  auto snapshot = routing::Snapshot::make(cfg, 1);
  req.command = static_cast<routing::Command>(f.ConsumeIntegralInRange<int>(0, 2));
  auto v = routing::decide(*snapshot, req, resolved, given);
  FUZZ_CHECK(v.decision.rule_index == want.rule_index && v.needs_resolution() == want.needs_resolution);
  FUZZ_CHECK(v.remote_dns_required == (v.remote_dns == config::RemoteDns::required || req.target.is_onion()));
  if (!req.target.is_domain()) FUZZ_CHECK(v.target_dns == routing::TargetDns::not_a_name);
  if (v.target_dns == routing::TargetDns::remote) FUZZ_CHECK(v.last_hop && v.last_hop->remote_dns());
  if (v.target_dns == routing::TargetDns::refused) FUZZ_CHECK(v.remote_dns_required);
  if (v.refusal != routing::Verdict::Refusal::none && req.target.is_domain())
    FUZZ_CHECK(v.target_dns == routing::TargetDns::not_reached);
  auto names = routing::local_lookups(*cfg, v, req.target);
  if (v.target_dns == routing::TargetDns::local && !v.needs_resolution()) FUZZ_CHECK(!names.empty() && names[0] == req.target.domain);
  (void)routing::dns_reason(v);
  FUZZ_CHECK(routing::chain_positions(*cfg, v).size() == (v.decision.via.kind == config::Via::Kind::chain ? v.decision.via.chain.size() : 0));
  return 0;
}
