#include "hopgate/routing/router.hpp"

#include <algorithm>

namespace hopgate::routing {
namespace {

bool port_allowed(const config::Route* route, const Request& request) {
  if (!route || route->allow_ports.empty()) return true;
  // A BIND's port 0 names no port: any peer port is expected.
  if (request.command == Command::bind && request.target.port == 0) return true;
  return std::any_of(route->allow_ports.begin(), route->allow_ports.end(),
                     [&](const config::PortRange& p) { return p.contains(request.target.port); });
}

/// The upstream whose hops decide about DNS for `up`: itself, or for a group its first member
/// that has hops (the dialer's first choice while it is healthy). nullptr when there is none.
const config::Upstream* stands_for(const config::Config& cfg, const config::Upstream& up) {
  const auto* g = std::get_if<config::Group>(&up.kind);
  if (!g) return &up;
  for (const auto& m : g->members)
    if (const auto* member = cfg.find_upstream(m); member && cfg.last_hop_of(*member)) return member;
  return nullptr;
}

/// Where the target's name goes (the dialer's rules: a direct route or a last hop that takes
/// addresses only resolves it here; socks4a/socks5h/http last hops get it as it is). Walks the
/// chain without building it: decide() runs per request and per UDP datagram.
void plan_dns(const config::Config& cfg, Verdict& v, const Request& request) {
  const auto& via = v.decision.via;
  if (!request.target.is_domain()) v.target_dns = TargetDns::not_a_name;
  else if (v.refusal != Verdict::Refusal::none) v.target_dns = TargetDns::not_reached;
  else if (via.kind == config::Via::Kind::direct) v.target_dns = v.remote_dns_required ? TargetDns::refused : TargetDns::local;
  if (via.kind != config::Via::Kind::chain || v.target_dns == TargetDns::not_reached) return;
  for (const auto& name : via.chain) {
    const auto* up = cfg.find_upstream(name);
    const auto* s = up ? stands_for(cfg, *up) : nullptr;
    v.last_hop = s ? cfg.last_hop_of(*s) : nullptr;
    if (!v.last_hop) break; // a position without hops: the dial fails, nothing to say about DNS
  }
  if (!request.target.is_domain()) return;
  if (!v.last_hop) v.target_dns = TargetDns::unknown;
  else if (v.last_hop->remote_dns()) v.target_dns = TargetDns::remote;
  else v.target_dns = v.remote_dns_required ? TargetDns::refused : TargetDns::local;
}

} // namespace

bool must_resolve_remotely(config::RemoteDns rule, const TargetAddress& target) {
  return rule == config::RemoteDns::required || target.is_onion();
}

bool every_last_hop(const config::Config& cfg, const config::Via& via, bool (*pred)(const config::Hop&)) {
  if (via.kind != config::Via::Kind::chain || via.chain.empty()) return false;
  const auto* up = cfg.find_upstream(via.chain.back());
  if (!up) return false;
  const auto* g = std::get_if<config::Group>(&up->kind);
  if (!g) {
    const auto* hop = cfg.last_hop_of(*up);
    return hop && pred(*hop);
  }
  bool any = false;
  for (const auto& m : g->members)
    if (const auto* member = cfg.find_upstream(m))
      if (const auto* hop = cfg.last_hop_of(*member)) {
        if (!pred(*hop)) return false;
        any = true;
      }
  return any;
}

bool carries(const config::Config& cfg, const config::Via& via, Command command) {
  if (via.kind == config::Via::Kind::block) return false;
  if (via.kind == config::Via::Kind::direct || command == Command::connect) return true;
  using S = config::Hop::Scheme;
  if (command == Command::bind) return every_last_hop(cfg, via, [](const config::Hop& h) { return h.scheme != S::http; });
  return every_last_hop(cfg, via, [](const config::Hop& h) { return h.scheme == S::socks5 || h.scheme == S::socks5h; });
}

bool udp_possible(const Snapshot& snapshot, const Client& client) {
  const auto& cfg = *snapshot.config;
  for (const auto& r : snapshot.table.routes())
    if (client_may_match(r.match, client) && carries(cfg, r.via, Command::udp_associate)) return true;
  return carries(cfg, snapshot.table.default_via(), Command::udp_associate);
}

Verdict decide(const Snapshot& snapshot, const Request& request, std::span<const boost::asio::ip::address> resolved,
               bool resolved_given) {
  const auto& cfg = *snapshot.config;
  Verdict v;
  v.decision = snapshot.table.match(request, resolved, resolved_given);
  const auto* route = v.decision.route;
  v.remote_dns = route ? route->remote_dns : config::RemoteDns::any;
  v.remote_dns_required = must_resolve_remotely(v.remote_dns, request.target);
  if (v.decision.needs_resolution) {
    // The rule's verdict depends on the name's addresses: hopgate resolves it first.
    v.target_dns = TargetDns::local;
    return v;
  }
  const auto& via = v.decision.via;
  if (!port_allowed(route, request)) v.refusal = Verdict::Refusal::port_not_allowed;
  else if (via.kind == config::Via::Kind::block) v.refusal = Verdict::Refusal::blocked;
  else if (!carries(cfg, via, request.command)) v.refusal = Verdict::Refusal::command_not_supported;
  plan_dns(cfg, v, request);
  return v;
}

std::vector<Position> chain_positions(const config::Config& cfg, const Verdict& v) {
  std::vector<Position> out;
  if (v.decision.via.kind != config::Via::Kind::chain) return out;
  for (const auto& name : v.decision.via.chain) {
    Position p{&name, cfg.find_upstream(name), {}};
    if (const auto* s = p.upstream ? stands_for(cfg, *p.upstream) : nullptr)
      for (const auto& named : cfg.hops_of(*s)) p.hops.push_back(named.hop);
    out.push_back(std::move(p));
  }
  return out;
}

std::string dns_reason(const Verdict& v) {
  std::string scheme = v.last_hop ? std::string(config::to_string(v.last_hop->scheme)) : std::string();
  if (v.needs_resolution())
    return "rule " + v.rule_name() +
           " matches the addresses of the name (\"resolve\": true); ask again with resolve=true to see the outcome";
  bool direct = v.decision.via.kind == config::Via::Kind::direct;
  switch (v.target_dns) {
  case TargetDns::not_a_name: return "the target is an IP address";
  case TargetDns::not_reached: return "the request is refused before any lookup";
  case TargetDns::refused:
    return direct ? "a direct route would resolve the name locally, and this request requires remote DNS"
                  : "the last hop (" + scheme + ") takes addresses only, and this request requires remote DNS";
  case TargetDns::local:
    return direct ? "direct route: hopgate resolves the name"
                  : "the last hop (" + scheme + ") takes addresses only: hopgate resolves the name";
  case TargetDns::remote: return "passed unresolved to the last hop (" + scheme + ")";
  case TargetDns::unknown: return {};
  }
  return {};
}

std::vector<std::string> local_lookups(const config::Config& cfg, const Verdict& v, const TargetAddress& target) {
  std::vector<std::string> names;
  if (v.needs_resolution() || v.target_dns == TargetDns::not_reached) return names;
  if (v.target_dns == TargetDns::local) names.push_back(target.domain);
  // The first hop's host, and the one after each hop that takes addresses only (the dialer
  // hands that hop an address).
  const config::Hop* previous = nullptr;
  for (const auto& p : chain_positions(cfg, v))
    for (const auto* hop : p.hops) {
      if (!previous || !previous->remote_dns()) {
        auto t = TargetAddress::from_host(hop->host, hop->port);
        if (t.is_domain()) names.push_back(t.domain);
      }
      previous = hop;
    }
  return names;
}

} // namespace hopgate::routing
