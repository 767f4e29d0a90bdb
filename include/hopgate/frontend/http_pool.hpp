#pragma once
// HttpPool: idle upstream connections of the HTTP front end, kept per worker (one io_context,
// one thread: no locks) and keyed by route generation + via + origin (+ user), so that a
// reload or a different route never reuses a connection made for another.
#include "hopgate/core/asio.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace hopgate::frontend {

class HttpPool {
public:
  HttpPool() = default;
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  /// The key for one upstream connection: who made it (generation, route's via, user) and
  /// where it leads (the origin, or the parent proxy for absolute-form forwarding).
  static std::string key(std::uint64_t generation, std::string_view via, std::string_view origin, std::string_view user);

  /// The most recently parked live connection for `key`, if any. Connections idle longer than
  /// `idle_timeout`, or that the peer closed or wrote to while parked, are closed and skipped.
  std::optional<tcp::socket> take(const std::string& key, Clock::duration idle_timeout);

  /// Parks `socket` for reuse. Beyond `max_idle` connections for this key the oldest is closed;
  /// max_idle 0 closes `socket` at once. A timer closes connections idle past `idle_timeout`.
  void put(const std::string& key, tcp::socket socket, std::size_t max_idle, Clock::duration idle_timeout);

  /// Idle connections held, over all keys.
  std::size_t idle() const;

  /// Closes every idle connection.
  void clear();

private:
  struct Idle {
    tcp::socket socket;
    Clock::time_point since;
  };
  /// Closes connections idle past the timeout and re-arms the timer while any remain.
  void sweep();
  void arm(const asio::any_io_executor& ex);

  std::unordered_map<std::string, std::deque<Idle>> idle_;
  std::size_t count_ = 0;
  Clock::duration timeout_ = std::chrono::seconds(30);
  std::unique_ptr<asio::steady_timer> timer_;
  bool armed_ = false;
  /// Lets a timer completion that outlives the pool know it must not touch it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// True when a parked connection still looks usable: no EOF, no error and no unsolicited
/// bytes waiting (a non-blocking MSG_PEEK).
bool idle_connection_usable(tcp::socket& socket);

} // namespace hopgate::frontend
