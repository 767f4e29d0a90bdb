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
#include "hopgate/admin/registry.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/upstream/dialer.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace hopgate::frontend {

/// Process-wide UDP relay counters (relaxed atomics; the admin API reads them for /metrics).
struct UdpCounters {
  std::atomic<std::uint64_t> associations_active{0};  ///< gauge
  std::atomic<std::uint64_t> associations_total{0};   ///< associations granted
  std::atomic<std::uint64_t> associations_refused{0}; ///< over a limit, no relay port, or no route carries UDP
  std::atomic<std::uint64_t> datagrams_in{0};         ///< client -> destinations, relayed
  std::atomic<std::uint64_t> datagrams_out{0};        ///< destinations -> client, relayed
  std::atomic<std::uint64_t> bytes_in{0};             ///< payload bytes of datagrams_in
  std::atomic<std::uint64_t> bytes_out{0};            ///< payload bytes of datagrams_out
  std::atomic<std::uint64_t> dropped{0};              ///< every drop; the reasons below add up to it
  std::atomic<std::uint64_t> dropped_foreign{0};      ///< not from the client's address (and port)
  std::atomic<std::uint64_t> dropped_malformed{0};    ///< bad SOCKS UDP header
  std::atomic<std::uint64_t> dropped_fragment{0};     ///< FRAG != 0 (we do not reassemble)
  std::atomic<std::uint64_t> dropped_too_big{0};      ///< payload over udp.max_datagram
  std::atomic<std::uint64_t> dropped_no_route{0};     ///< the route cannot carry UDP (block, HTTP/SOCKS4 hop), or a rule forbids it
  std::atomic<std::uint64_t> dropped_unresolved{0};   ///< the destination name did not resolve
  std::atomic<std::uint64_t> dropped_upstream{0};     ///< the upstream SOCKS5 association failed, or its queue was full
  std::atomic<std::uint64_t> dropped_send_error{0};   ///< sendto failed
};

/// The one instance.
UdpCounters& udp_counters();

/// Serves a UDP ASSOCIATE once the SOCKS5 handshake is done. `requested` is the request's
/// DST: where the client says it will send from (an unspecified address or port 0: unknown).
/// Returns the result text for the access log.
awaitable<std::string> serve_udp_associate(tcp::socket& control, SessionContext& ctx, admin::Connection& conn,
                                           const routing::Client& who, const TargetAddress& requested);

} // namespace hopgate::frontend
