#pragma once
// One accepted client connection: access check, registry entry, protocol sniffing, the front
// end's handler, and the access-log line at close.
#include "hopgate/frontend/context.hpp"

#include <vector>

namespace hopgate::frontend {

/// What the listener the client came in on speaks.
struct ListenerInfo {
  config::Protocol kind = config::Protocol::socks; ///< "http" or "socks" listener
  std::vector<config::Protocol> protocols;         ///< both: sniff the first byte
};

awaitable<void> run_session(tcp::socket client, SessionContext ctx, ListenerInfo listener);

} // namespace hopgate::frontend
