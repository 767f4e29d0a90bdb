#pragma once
// relay: two-way copy between a client and an upstream until both sides are done.
// Half-close is passed on (EOF on one side -> shutdown(send) on the other); an idle timeout
// closes both. An idle tunnel holds no buffer: each direction waits for readability, reads into
// a per-thread buffer and writes without blocking; only a write that cannot finish at once
// keeps its remainder on the heap until it drains.
#include "hopgate/core/asio.hpp"

#include <atomic>
#include <cstdint>
#include <span>

namespace hopgate::relay {

/// Byte counters a relay updates as it goes (read by the admin API while the tunnel runs).
struct Counters {
  std::atomic<std::uint64_t> up{0};   ///< client -> upstream
  std::atomic<std::uint64_t> down{0}; ///< upstream -> client
};

enum class RelayEnd { closed, idle_timeout, error };

/// The access log's result for a tunnel that was relayed: "ok", or "ok (idle timeout)".
inline const char* result_text(RelayEnd end) { return end == RelayEnd::idle_timeout ? "ok (idle timeout)" : "ok"; }

/// Relays until both directions ended or `idle` passes with no byte either way.
/// `to_upstream_first` / `to_client_first` are bytes already read during the handshake.
awaitable<RelayEnd> run(tcp::socket& client, tcp::socket& upstream, Clock::duration idle, Counters& counters,
                        std::span<const std::uint8_t> to_upstream_first = {},
                        std::span<const std::uint8_t> to_client_first = {});

} // namespace hopgate::relay
