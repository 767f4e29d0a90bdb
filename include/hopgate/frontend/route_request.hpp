#pragma once
// The steps every front end takes for a request: the Router's decision (routing/router.hpp),
// then the process's own policy (target_policy.hpp), then the dial. A front end builds a
// routing::Request and calls admit() (when it dials by itself, as the HTTP pool does) or
// route_and_dial(); nothing else decides where a request goes.
#include "hopgate/observe/registry.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/frontend/target_policy.hpp"
#include "hopgate/routing/router.hpp"
#include "hopgate/upstream/dialer.hpp"

#include <optional>

namespace hopgate::frontend {

/// A request as the Router and the policy left it, before any dial.
struct Admission {
  std::shared_ptr<const routing::Snapshot> snapshot;
  routing::Verdict verdict;
  std::optional<Refusal> policy; ///< refused by the process's policy (limits, own listeners, private targets)
};

/// Routes `request` on `snapshot` (resolving first for a "resolve": true rule) and asks the
/// policy. The route's own refusals (port, block, command) are in verdict.refusal.
awaitable<Admission> admit(SessionContext& ctx, std::shared_ptr<const routing::Snapshot> snapshot,
                           const routing::Request& request, const observe::Connection& conn);

/// The route's own refusal as the SOCKS and CONNECT paths report it (ProxyError, "route NAME").
Refusal route_refusal(const routing::Verdict& verdict, const TargetAddress& target);

/// A routed request's action for the dialer.
upstream::DialRequest dial_request(std::shared_ptr<const routing::Snapshot> snapshot, const routing::Verdict& verdict,
                                   const routing::Request& request);

struct RoutedConnection {
  std::shared_ptr<const routing::Snapshot> snapshot;
  routing::Verdict verdict;
  upstream::DialResult dial;
};

/// admit(), then the dial along the route. The decision and the hop chain are recorded on
/// `conn` for the admin API and the access log; a refusal comes back as dial.ec.
awaitable<RoutedConnection> route_and_dial(SessionContext& ctx, const routing::Request& request, observe::Connection& conn);

/// One access-log line at close (never credentials).
void log_close(const observe::Connection& conn, std::string_view result, Clock::duration took);

} // namespace hopgate::frontend
