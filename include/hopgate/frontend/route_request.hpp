#pragma once
// The step both front ends share: take the route table snapshot, pick the route, dial it.
#include "hopgate/admin/registry.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/upstream/dialer.hpp"

namespace hopgate::frontend {

struct RoutedConnection {
  std::shared_ptr<const routing::Snapshot> snapshot;
  routing::Decision decision;
  upstream::DialResult dial;
  std::string route_name() const { return decision.rule_name(); }
};

/// Routes `target` for `client` and connects along the route. The decision and the hop chain
/// are recorded on `conn` for the admin API and the access log.
awaitable<RoutedConnection> route_and_dial(SessionContext& ctx, const upstream::ClientIdentity& client,
                                           const TargetAddress& target, std::uint8_t socks_command,
                                           admin::Connection& conn);

/// One access-log line at close (never credentials).
void log_close(const admin::Connection& conn, std::string_view result, Clock::duration took);

} // namespace hopgate::frontend
