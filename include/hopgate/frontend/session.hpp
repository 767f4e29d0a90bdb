#pragma once
// One accepted client connection: access check, registry entry, protocol sniffing, the front
// end's handler, and the access-log line at close.
#include "hopgate/frontend/context.hpp"

#include <vector>

namespace hopgate::frontend {

/// What the listener the client came in on speaks.
struct ListenerInfo {
  std::string name;                                ///< its key under /listeners
  config::Protocol kind = config::Protocol::socks; ///< what it speaks when it speaks one protocol
  std::vector<config::Protocol> protocols;         ///< both: sniff the first byte
};

awaitable<void> run_session(tcp::socket client, SessionContext ctx, ListenerInfo listener);

} // namespace hopgate::frontend
