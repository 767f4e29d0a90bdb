#pragma once
// SOCKS5 UDP ASSOCIATE (RFC 1928 section 7): one UDP relay socket per association, facing the
// client, bound to the address the client's TCP connection reached (port from udp.port_range,
// or ephemeral). Each datagram from the client is routed on its own destination:
//   direct            sent from a per-association outgoing socket (IPv4 and IPv6 as needed),
//                     names resolved asynchronously and cached for the association;
//   last hop SOCKS5   relayed through a UDP ASSOCIATE that hopgate opens on that hop (one per
//                     route per association), wrapped and unwrapped by the standard header;
//   anything else     (block, HTTP or SOCKS4 last hop) dropped and counted.
// Replies reach the client with the RFC 1928 header naming their source. The association ends
// when its TCP control connection closes, or after udp.idle_timeout without a datagram.
#include "hopgate/observe/registry.hpp"
#include "hopgate/observe/udp_counters.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/upstream/dialer.hpp"

#include <cstdint>
#include <string>

namespace hopgate::frontend {

/// Serves a UDP ASSOCIATE once the SOCKS5 handshake is done. `requested` is the request's
/// DST: where the client says it will send from (an unspecified address or port 0: unknown).
/// Returns the result text for the access log.
awaitable<std::string> serve_udp_associate(tcp::socket& control, SessionContext& ctx, observe::Connection& conn,
                                           const routing::Client& who, const TargetAddress& requested);

} // namespace hopgate::frontend
