#pragma once
// Counters of the SOCKS5 UDP relay (frontend/udp_associate), read by the admin API's /metrics.
#include <atomic>
#include <cstdint>

namespace hopgate::observe {

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

} // namespace hopgate::observe
