#pragma once
// Listener: one listen address of one configured listener, its listening sockets and accept
// loops. What an accepted connection becomes is the caller's (AcceptHandler): the gateway keeps
// the one table from listener kind to handler, so that a new kind is one entry there.
//
// Each worker accepts on a socket of its own (SO_REUSEPORT, same port) and serves what it
// accepts: a connection never changes threads, and no other thread wakes for it. A listener
// that only one worker serves (the admin API) has one socket, on the first io_context.
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/core/fd_reserve.hpp"

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hopgate::frontend {

/// Serves one accepted connection on the worker (index into the io_contexts) that accepted it.
using AcceptHandler = std::function<void(tcp::socket socket, const tcp::endpoint& peer, std::size_t worker)>;

/// Its owner keeps it while its accept loops run (until stopped()), and in any case destroys
/// it before its io_contexts: the loops and the posted closes refer to it, and its sockets must
/// go before their io_contexts do.
class Listener {
public:
  /// `configured` is one of cfg.listen. Front ends get a socket per worker, the admin API one.
  Listener(const config::Listener& cfg, tcp::endpoint configured);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// Binds and listens on every io_context it serves (only the first, unless every_worker).
  /// Refuses a port that something else already listens on (another hopgate included), which
  /// SO_REUSEPORT would otherwise let it join silently.
  error_code open(const std::vector<asio::io_context*>& contexts);
  /// Starts one accept loop per socket; `fds` is released when accept runs out of descriptors.
  void start(AcceptHandler handler, FdReserve& fds);
  /// Stops accepting: each socket is closed by the thread that runs its accept loop.
  void close();
  /// Closes every socket at once: before start(), or from the one thread that runs them all
  /// (the drain's last step, for the admin listener).
  void close_now();

  const std::string& name() const { return name_; }
  config::ListenerKind kind() const { return kind_; }
  const tcp::endpoint& configured() const { return configured_; } ///< as written (port 0 stays 0)
  const tcp::endpoint& endpoint() const { return endpoint_; }     ///< as bound
  /// Started, and every accept loop has ended (its sockets closed): nothing refers to it now.
  bool stopped() const { return started_ && loops_running_.load() == 0; }
  /// Whether `other` is this listener again: same name, kind and address (a reload keeps it
  /// bound, with its open connections).
  bool same(const Listener& other) const;

private:
  awaitable<void> accept_loop(std::size_t worker);

  std::string name_;
  config::ListenerKind kind_;
  tcp::endpoint configured_;
  bool every_worker_;
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_; ///< one per worker served, first io_context first
  std::vector<asio::io_context*> contexts_;                ///< the io_context of each acceptor
  AcceptHandler handler_;
  bool started_ = false;
  std::atomic<std::size_t> loops_running_{0};
  FdReserve* fds_ = nullptr;
};

/// The text of an endpoint as logs and the admin API show it: "127.0.0.1:80", "[::1]:80".
std::string endpoint_text(const tcp::endpoint& ep);

} // namespace hopgate::frontend
