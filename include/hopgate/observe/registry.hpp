#pragma once
// Registry of live connections, for GET/DELETE /api/v1/connections and for draining.
// Sessions add themselves at accept and remove themselves at close; the data path never
// touches the registry's locks (byte counters are the session's own relaxed atomics).
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/core/error.hpp"
#include "hopgate/relay/relay.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace hopgate::observe {

/// One live connection. The strings under `mutex` change at most a few times per connection (an
/// HTTP connection: when its requests go somewhere else); `state` and `error` are atomics, so
/// that a session marks its phases per request without a lock.
struct Connection {
  std::uint64_t id = 0;
  std::string client;
  config::Protocol frontend = config::Protocol::socks;
  Clock::time_point started = Clock::now();
  asio::any_io_executor executor;
  relay::Counters bytes;

  mutable std::mutex mutex;
  std::string user;
  std::string target;
  std::string route;
  std::string hops;
  std::atomic<const char*> state{"handshake"};   ///< a string literal naming the phase
  std::atomic<ProxyError> error{ProxyError::ok}; ///< why routing or dialing failed, for stats
  std::function<void()> kill; ///< run on `executor`: closes the sockets

  void set(const char* phase) { state.store(phase, std::memory_order_relaxed); }
  void set_error(ProxyError e) { error.store(e, std::memory_order_relaxed); }
};

class Registry {
public:
  std::shared_ptr<Connection> open(std::string client, config::Protocol frontend, asio::any_io_executor ex);
  void close(std::uint64_t id);
  std::vector<std::shared_ptr<Connection>> list() const;
  /// Asks a connection to close; false when there is no such id.
  bool kill(std::uint64_t id);
  std::size_t size() const;

private:
  static constexpr std::size_t shards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> map;
  };
  std::array<Shard, shards> shards_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::size_t> size_{0};
};

} // namespace hopgate::observe
