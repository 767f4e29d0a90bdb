#pragma once
// relay: two-way copy between a client and an upstream until both sides are done.
// Half-close is passed on (EOF on one side -> shutdown(send) on the other); an idle timeout
// closes both. An idle tunnel holds no buffer: each direction waits for readability, reads into
// a per-thread buffer and writes without blocking; only a write that cannot finish at once
// keeps its remainder on the heap until it drains.
#include "hopgate/core/asio.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
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

class Tunnel;

/// Closes a running tunnel's sockets; it then ends as an error. Call it on the sockets'
/// io_context, only between TunnelEnd::started and TunnelEnd's call.
struct TunnelCloser {
  Tunnel* tunnel = nullptr;
  void operator()() const;
};

/// What a tunnel started with start() does at its end.
class TunnelEnd {
public:
  virtual ~TunnelEnd() = default;
  /// Called once before the tunnel starts: how to close it early (an admin kill, a drain).
  virtual void started(TunnelCloser close) = 0;
  /// Called once when the tunnel is over, after both sockets are closed. Not called when the
  /// io_context is destroyed while the tunnel runs: then only the destructor runs.
  virtual void operator()(RelayEnd end) = 0;
};

/// The bytes read during the handshake go first, each within `idle` (a peer that takes none of
/// them is gone), and count in `counters`.
awaitable<error_code> write_first(tcp::socket& client, tcp::socket& upstream, Clock::duration idle, Counters& counters,
                                  std::span<const std::uint8_t> to_upstream, std::span<const std::uint8_t> to_client);

/// Relays on its own, owning both sockets, until both directions ended or `idle` passes with no
/// byte either way; then calls `on_end`. The coroutine that set the tunnel up can end: a
/// long-lived tunnel then keeps neither its frames nor the handshake's.
void start(tcp::socket client, tcp::socket upstream, Clock::duration idle, Counters& counters,
           std::unique_ptr<TunnelEnd> on_end);

} // namespace hopgate::relay
