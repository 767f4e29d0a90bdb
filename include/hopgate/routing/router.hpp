#pragma once
// Router: the one road from a request to what happens to it. `decide` is the pure part: the
// rule, the action, whether the route refuses the request, and where the target's name would be
// resolved. When a "resolve": true rule needs the name's addresses first (needs_resolution),
// `resolve_and_decide` looks them up and decides with them. The admin API's route explanation
// serializes the same Verdict (with the chain and the words built on demand), so what it says
// is what the dialer is asked to do.
//
// The process's own policy (connection limits, hopgate's own listeners, private targets) is not
// a routing matter: the front ends ask frontend/target_policy after the Router.
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/dns/resolver.hpp"
#include "hopgate/routing/request.hpp"
#include "hopgate/routing/route_table.hpp"
#include "hopgate/routing/snapshot.hpp"

#include <span>
#include <string>
#include <vector>

namespace hopgate::routing {

/// Where the target's name is resolved, if it is a name.
enum class TargetDns {
  not_a_name,  ///< the target is an IP address
  not_reached, ///< the request is refused before any lookup (block, port not allowed)
  local,       ///< hopgate resolves it: a direct route, or a last hop that takes addresses only
  remote,      ///< passed unresolved to the last hop (socks4a, socks5h, http)
  refused,     ///< it would be resolved here, and the request requires remote DNS
  unknown,     ///< the chain names an upstream without hops (not configured, an empty group)
};

/// One chain position: the upstream it names and the single hops it stands for (its own, a
/// named chain's, or for a group its first member that has any: the hops that decide about DNS).
struct Position {
  const std::string* name = nullptr;
  const config::Upstream* upstream = nullptr; ///< nullptr: not configured
  std::vector<const config::Hop*> hops;
};

struct Verdict {
  /// Why the route itself refuses the request.
  enum class Refusal {
    none,
    port_not_allowed,      ///< the rule's allow_ports does not hold the target port
    blocked,               ///< the action is block
    command_not_supported, ///< BIND needs SOCKS last hops, UDP ASSOCIATE SOCKS5 ones
  };

  Decision decision; ///< the rule and its action; needs_resolution: ask again with addresses
  Refusal refusal = Refusal::none;
  config::RemoteDns remote_dns = config::RemoteDns::any; ///< the rule's "remote_dns"
  bool remote_dns_required = false; ///< the rule requires it, or the name is a .onion
  TargetDns target_dns = TargetDns::not_a_name;
  const config::Hop* last_hop = nullptr; ///< the hop that decides about the target's name (a chain's last)
  unsigned lookups_made = 0;             ///< lookups resolve_and_decide made (a "resolve": true rule)

  bool needs_resolution() const { return decision.needs_resolution; }
  std::string rule_name() const { return decision.rule_name(); }
};

/// The pure decision for `request`; `resolved` are the name's addresses when the caller looked
/// them up for a "resolve": true rule (resolved_given).
Verdict decide(const Snapshot& snapshot, const Request& request, std::span<const boost::asio::ip::address> resolved = {},
               bool resolved_given = false);

/// For a verdict that needs_resolution: resolves the name (one local lookup, counted in
/// lookups_made) and decides with its addresses. Every front end calls decide() first, so that a
/// request that needs no lookup costs no coroutine frame.
awaitable<Verdict> resolve_and_decide(const Snapshot& snapshot, const Request& request, dns::Resolver& resolver);

// For the admin API: built on demand, so that a request pays nothing for them.

/// The chain of a verdict's action, one Position per upstream it names.
std::vector<Position> chain_positions(const config::Config& cfg, const Verdict& verdict);

/// Why the target's name is resolved where it is, in words; empty when unknown.
std::string dns_reason(const Verdict& verdict);

/// The names hopgate looks up itself for this verdict, in order: the target's (when resolved
/// here), the first hop's host, and the host of each hop after a socks4/socks5 hop.
std::vector<std::string> local_lookups(const config::Config& cfg, const Verdict& verdict, const TargetAddress& target);

/// Whether every hop the last position of `via` may end with (one hop, or the last hop of each
/// member of a group) satisfies `pred`; false for direct, block, or no hops.
bool every_last_hop(const config::Config& cfg, const config::Via& via, bool (*pred)(const config::Hop&));

/// Whether `via` can carry `command`: BIND needs SOCKS last hops (an HTTP hop cannot listen),
/// UDP ASSOCIATE SOCKS5 ones; direct carries everything, block nothing.
bool carries(const config::Config& cfg, const config::Via& via, Command command);

/// An association is possible when some rule that may apply to the client, or the default,
/// carries UDP; each datagram's own rule then decides.
bool udp_possible(const Snapshot& snapshot, const Client& client);

/// "remote_dns": "required" on the rule, or a .onion name: never resolved here (RFC 7686).
bool must_resolve_remotely(config::RemoteDns rule, const TargetAddress& target);

} // namespace hopgate::routing
