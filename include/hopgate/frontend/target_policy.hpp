#pragma once
// What no request may reach, whatever the routes say: hopgate's own listening addresses (a proxy
// loop, or the admin API reached through the proxy from wherever the proxy lets clients in),
// and with `deny_private_targets` loopback, private and link-local networks (SSRF protection).
// Both front ends ask here through route_and_dial, which also refuses connections flagged over
// a connection limit at accept (limits.hpp).
#include "hopgate/observe/registry.hpp"
#include "hopgate/core/target.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/frontend/limits.hpp"
#include "hopgate/routing/route_table.hpp"
#include "hopgate/upstream/dialer.hpp"

#include <optional>
#include <span>
#include <string>

namespace hopgate::frontend {

/// Loopback, unspecified, RFC 1918 / RFC 6598 (CGNAT) / unique-local, link-local, multicast,
/// broadcast and reserved (240/4, benchmarking 198.18/15, IETF 192.0.0/24, documentation
/// ranges) addresses: not places a proxy should send an outside client. IPv4-mapped and NAT64
/// (64:ff9b::/96) addresses are judged by the IPv4 address inside.
bool is_private_address(const asio::ip::address& a);

/// "localhost" and names under ".localhost" (RFC 6761): loopback without asking DNS.
bool is_localhost_name(std::string_view host);

/// The pure part of the policy, for a target and (for a name) its resolved addresses.
/// Returns why it is refused, or nullopt.
std::optional<std::string> target_refusal(const OwnEndpoints& own, bool deny_private, const TargetAddress& target,
                                          std::span<const asio::ip::address> resolved = {});

/// Why a request was refused before any dial.
struct Refusal {
  error_code ec;      ///< ProxyError::over_limit or not_allowed
  std::string where;  ///< "limits", "policy", "route NAME"
  std::string detail;
  std::string message() const { return upstream::failure_message(where, ec, detail); }
};

/// Refuses a request before it is dialed: a connection over a connection limit (over_limit),
/// a target that is one of hopgate's own listeners or whose route's first hop is (not_allowed),
/// a private target under deny_private_targets (not_allowed). A name is checked after resolving
/// it when the route is direct and the check needs addresses; through a remote-DNS upstream
/// only the name itself can be judged. Returns true (with `refusal` filled in) when refused.
awaitable<bool> refuse_request(SessionContext& ctx, const routing::Snapshot& snapshot, const observe::Connection& conn,
                               const TargetAddress& target, const routing::Decision& decision, Refusal& refusal);

} // namespace hopgate::frontend
