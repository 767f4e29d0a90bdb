#include "hopgate/frontend/listener.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <spdlog/spdlog.h>

namespace hopgate::frontend {
namespace {

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

/// Opens and binds (SO_REUSEADDR; IPv6 sockets take IPv6 only). `shared`: with SO_REUSEPORT,
/// so that each worker has a listening socket of its own on the same port and the kernel spreads
/// new connections over them (no thread woken for a connection another one takes).
error_code open_bound(tcp::acceptor& a, const tcp::endpoint& ep, bool shared) {
  error_code ec;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && shared) a.set_option(reuse_port(true), ec);
  if (!ec && ep.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
  if (!ec) a.bind(ep, ec);
  return ec;
}

error_code open_listening(tcp::acceptor& a, const tcp::endpoint& ep, bool shared) {
  auto ec = open_bound(a, ep, shared);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    a.close(ignored);
  }
  return ec;
}

/// Whether something already listens on `ep` (another hopgate included): a plain bind fails then.
/// SO_REUSEPORT would otherwise let a second process with the same user join the port silently
/// and take half its connections.
error_code port_taken(asio::io_context& ctx, const tcp::endpoint& ep) {
  if (ep.port() == 0) return {};
  tcp::acceptor probe(ctx);
  return open_bound(probe, ep, false);
}

} // namespace

std::string endpoint_text(const tcp::endpoint& ep) {
  auto a = ep.address();
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(ep.port()) : a.to_string() + ":" + std::to_string(ep.port());
}

Listener::Listener(const config::Listener& cfg, tcp::endpoint configured)
    : name_(cfg.name), kind_(cfg.kind), configured_(configured), every_worker_(cfg.kind != config::ListenerKind::admin) {}

error_code Listener::open(const std::vector<asio::io_context*>& contexts) {
  bool shared = every_worker_ && contexts.size() > 1;
  if (shared) {
    if (auto ec = port_taken(*contexts[0], configured_)) return ec;
  }
  auto first = std::make_unique<tcp::acceptor>(*contexts[0]);
  auto ec = open_listening(*first, configured_, shared);
  if (!ec) endpoint_ = first->local_endpoint(ec);
  if (ec) return ec;
  acceptors_.push_back(std::move(first));
  contexts_.push_back(contexts[0]);
  for (std::size_t w = 1; shared && w < contexts.size(); ++w) {
    auto a = std::make_unique<tcp::acceptor>(*contexts[w]);
    ec = open_listening(*a, endpoint_, true); // port 0 resolved by the first bind
    if (ec) {
      close_now(); // no accept loop runs yet: the sockets can go
      acceptors_.clear();
      contexts_.clear();
      return ec;
    }
    acceptors_.push_back(std::move(a));
    contexts_.push_back(contexts[w]);
  }
  return {};
}

void Listener::start(AcceptHandler handler, FdReserve& fds) {
  handler_ = std::move(handler);
  fds_ = &fds;
  started_ = true;
  loops_running_ = acceptors_.size();
  // The io_contexts are the workers, in order: the i-th acceptor is worker i's.
  for (std::size_t i = 0; i < acceptors_.size(); ++i) co_spawn(*contexts_[i], accept_loop(i), asio::detached);
}

void Listener::close() {
  for (std::size_t i = 0; i < acceptors_.size(); ++i)
    asio::post(*contexts_[i], [this, i] {
      error_code ignored;
      acceptors_[i]->close(ignored);
    });
}

void Listener::close_now() {
  error_code ignored;
  for (auto& a : acceptors_) a->close(ignored);
}

bool Listener::same(const Listener& other) const {
  return name_ == other.name_ && kind_ == other.kind_ && configured_ == other.configured_;
}

awaitable<void> Listener::accept_loop(std::size_t worker) {
  tcp::acceptor& acceptor = *acceptors_[worker];
  for (;;) {
    tcp::endpoint peer; // filled by accept itself: the session needs no getpeername
    auto [ec, socket] = co_await acceptor.async_accept(peer, use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
      --loops_running_; // the last one lets the owner drop it (stopped())
      co_return;
    }
    if (!ec) {
      handler_(std::move(socket), peer, worker);
      continue;
    }
    // Out of descriptors or a transient error: back off instead of spinning or dying.
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE) fds_->release();
    static thread_local Clock::time_point last_log{};
    if (Clock::now() - last_log > std::chrono::seconds(5)) {
      spdlog::warn("accept on {} failed: {}; backing off", endpoint_text(endpoint_), ec.message());
      last_log = Clock::now();
    }
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
    co_await t.async_wait(use_nothrow);
    fds_->restore();
  }
}

} // namespace hopgate::frontend
