#pragma once
// One accepted client connection: access check, registry entry, protocol sniffing, the front
// end's handler, and the access-log line at close.
#include "hopgate/frontend/context.hpp"

#include <vector>

namespace hopgate::frontend {

/// Serves a client accepted on the listener `ctx.listener` names: what the listener speaks,
/// its auth and allow/deny lists are read from the snapshot the session takes, so a reload
/// changes them for the next connection without re-binding the port.
awaitable<void> run_session(tcp::socket client, SessionContext ctx);

} // namespace hopgate::frontend
