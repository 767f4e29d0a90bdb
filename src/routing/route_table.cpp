#include "hopgate/routing/route_table.hpp"

#include "hopgate/routing/cidr_index.hpp"
#include "hopgate/routing/domain_index.hpp"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <stdexcept>

namespace hopgate::routing {

namespace {

// What a candidate's source already proves, so that verification never rescans a rule's
// (possibly huge) domain or CIDR list.
constexpr std::uint8_t domain_ok = 1; ///< one of the rule's exact/suffix patterns matched the host
constexpr std::uint8_t cidr_ok = 2;   ///< one of the rule's prefixes holds the target (or a resolved address)

/// A sorted run of candidate rule indices and what being in it proves.
struct Source {
  const std::uint32_t* next;
  const std::uint32_t* end;
  std::uint8_t proves;
};
// Enough for a host of a dozen labels plus the lists; larger cases spill to the heap.
using Sources = boost::container::small_vector<Source, 24>;

void push(Sources& sources, std::span<const std::uint32_t> rules, std::uint8_t proves) {
  if (!rules.empty()) sources.push_back({rules.data(), rules.data() + rules.size(), proves});
}

/// Whether one rule matches a request: `resolve` when it can tell only with the name's addresses.
enum class RuleMatch { no, yes, resolve };

} // namespace

struct RouteTable::Index {
  /// The per-rule facts that the indexes do not answer.
  struct Rule {
    bool has_domain = false;
    bool has_cidr = false;
    std::vector<std::string> globs; ///< glob patterns, scanned (exact/suffix ones live in `domains`)
  };
  std::vector<Rule> rules;
  DomainIndex domains;
  CidrIndex ip_cidrs;       ///< rules with cidr and no domain matcher: candidates for IP targets
  CidrIndex resolved_cidrs; ///< rules with cidr and resolve: candidates for resolved addresses
  std::vector<std::uint32_t> glob_rules;    ///< rules with a glob pattern: candidates for every domain
  std::vector<std::uint32_t> plain_rules;   ///< no domain and no cidr matcher: candidates for every target
  std::vector<std::uint32_t> resolve_rules; ///< resolve, cidr, no domain: candidates for unresolved domains
};

RouteTable::RouteTable(std::vector<config::Route> routes, config::Via default_via)
    : routes_(std::move(routes)), default_via_(std::move(default_via)), index_(std::make_unique<Index>()) {
  // Indices are stored as 32 bits and UINT32_MAX ends the merge below.
  if (routes_.size() >= UINT32_MAX)
    throw std::length_error("too many routes");
  auto& ix = *index_;
  ix.rules.resize(routes_.size());
  for (std::uint32_t i = 0; i < routes_.size(); ++i) {
    const auto& route = routes_[i];
    auto& rule = ix.rules[i];
    rule.has_domain = !route.match.domain.empty();
    rule.has_cidr = !route.match.cidr.empty();
    for (const auto& raw : route.match.domain) {
      // The loader normalises already; routes built elsewhere (admin API, tests) may not have.
      auto pattern = normalize_host(raw);
      if (!ix.domains.add(pattern, i)) rule.globs.push_back(std::move(pattern));
    }
    if (!rule.globs.empty()) ix.glob_rules.push_back(i);
    // A domain matcher never matches an IP literal, so a rule with both is only reachable by name.
    if (rule.has_cidr && !rule.has_domain)
      for (const auto& c : route.match.cidr) ix.ip_cidrs.add(c, i);
    if (rule.has_cidr && route.resolve)
      for (const auto& c : route.match.cidr) ix.resolved_cidrs.add(c, i);
    if (!rule.has_domain && !rule.has_cidr) ix.plain_rules.push_back(i);
    if (rule.has_cidr && route.resolve && !rule.has_domain) ix.resolve_rules.push_back(i);
  }
}

RouteTable::~RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;

Decision RouteTable::match(const Request& req, std::span<const boost::asio::ip::address> resolved,
                           bool resolved_given) const {
  const auto& ix = *index_;
  const bool is_domain = req.target.is_domain();

  std::string normalized;
  std::string_view host = req.target.domain;
  if (is_domain && host_needs_normalizing(host)) {
    normalized = normalize_host(host);
    host = normalized;
  }

  // Gather the sorted candidate lists that can hold the first matching rule.
  Sources sources;
  push(sources, ix.plain_rules, 0);
  if (is_domain) {
    ix.domains.for_each_match(host, [&](std::span<const std::uint32_t> r) { push(sources, r, domain_ok); });
    push(sources, ix.glob_rules, 0);
    if (!resolved_given) push(sources, ix.resolve_rules, 0);
    else
      for (const auto& a : resolved)
        ix.resolved_cidrs.for_each_match(a, [&](std::span<const std::uint32_t> r) { push(sources, r, cidr_ok); });
  } else {
    ix.ip_cidrs.for_each_match(*req.target.ip, [&](std::span<const std::uint32_t> r) { push(sources, r, cidr_ok); });
  }

  auto verify = [&](std::uint32_t i, std::uint8_t proven) {
    const auto& m = routes_[i].match;
    const auto& rule = ix.rules[i];
    // Cheap per-request matchers first; the cidr verdict last, since "needs resolution" is only
    // reported once everything else matches.
    if (!m.port.empty() &&
        std::none_of(m.port.begin(), m.port.end(), [&](const auto& r) { return r.contains(req.target.port); }))
      return RuleMatch::no;
    if (!client_may_match(m, req.client)) return RuleMatch::no;
    if (rule.has_domain) {
      if (!is_domain || host.empty()) return RuleMatch::no;
      if (!(proven & domain_ok) &&
          std::none_of(rule.globs.begin(), rule.globs.end(), [&](const auto& g) { return glob_matches(g, host); }))
        return RuleMatch::no;
    }
    if (rule.has_cidr) {
      if (is_domain) {
        if (!routes_[i].resolve) return RuleMatch::no;
        if (!resolved_given) return RuleMatch::resolve;
      }
      return (proven & cidr_ok) ? RuleMatch::yes : RuleMatch::no;
    }
    return RuleMatch::yes;
  };

  // K-way merge in rule order: the first candidate that verifies is the first matching rule.
  for (;;) {
    std::uint32_t lowest = UINT32_MAX;
    for (const auto& s : sources)
      if (s.next != s.end && *s.next < lowest) lowest = *s.next;
    if (lowest == UINT32_MAX) break;
    std::uint8_t proven = 0;
    for (auto& s : sources)
      if (s.next != s.end && *s.next == lowest) {
        proven |= s.proves;
        ++s.next;
      }
    switch (verify(lowest, proven)) {
    case RuleMatch::no: break;
    case RuleMatch::yes: {
      Decision d;
      d.rule_index = lowest;
      d.route = &routes_[lowest];
      d.via = routes_[lowest].via;
      return d;
    }
    case RuleMatch::resolve: {
      // Not a decision yet: the caller resolves and asks again. `via` stays default-constructed.
      Decision d;
      d.rule_index = lowest;
      d.route = &routes_[lowest];
      d.needs_resolution = true;
      return d;
    }
    }
  }

  Decision d;
  d.via = default_via_;
  return d;
}

bool client_may_match(const config::Match& m, const Client& client) {
  // "frontend" names protocols and listeners: either may let the client in.
  if (!m.frontend.empty() || !m.listener.empty()) {
    bool by_protocol = std::find(m.frontend.begin(), m.frontend.end(), client.frontend) != m.frontend.end();
    bool by_listener = std::find(m.listener.begin(), m.listener.end(), client.listener) != m.listener.end();
    if (!by_protocol && !by_listener) return false;
  }
  if (!m.user.empty() && (client.user.empty() || std::find(m.user.begin(), m.user.end(), client.user) == m.user.end()))
    return false;
  if (!m.client.empty() &&
      std::none_of(m.client.begin(), m.client.end(), [&](const Cidr& c) { return c.contains(client.address); }))
    return false;
  return true;
}

bool domain_pattern_matches(std::string_view pattern, std::string_view host) {
  std::string pattern_buf, host_buf;
  if (host_needs_normalizing(pattern)) pattern = pattern_buf = normalize_host(pattern);
  if (host_needs_normalizing(host)) host = host_buf = normalize_host(host);
  if (host.empty()) return false; // no name, nothing to match (as in the table)
  auto p = DomainPattern::classify(pattern);
  auto is_strict_subdomain = [&] {
    return host.size() > p.key.size() && host.ends_with(p.key) && host[host.size() - p.key.size() - 1] == '.';
  };
  switch (p.kind) {
  case DomainPattern::Kind::exact: return host == p.key;
  case DomainPattern::Kind::subdomains: return is_strict_subdomain();
  case DomainPattern::Kind::domain_and_subdomains: return host == p.key || is_strict_subdomain();
  case DomainPattern::Kind::glob: return glob_matches(p.key, host);
  }
  return false;
}

} // namespace hopgate::routing
