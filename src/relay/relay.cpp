#include "hopgate/relay/relay.hpp"

#include <boost/asio/write.hpp>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <unistd.h>
#include <vector>

namespace hopgate::relay {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr std::size_t chunk_size = 64 * 1024;

/// One buffer per thread serves every tunnel on that io_context: a read is followed at once by a
/// non-blocking write, so the buffer is free again before the coroutine suspends.
std::uint8_t* thread_buffer() {
  thread_local std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[chunk_size]);
  return buf.get();
}

/// Pipes for splice(), cached per thread and lent to a direction only while bytes are in flight,
/// so an idle tunnel holds neither a buffer nor a pipe.
class PipePool {
public:
  struct Pipe {
    int read = -1;
    int write = -1;
  };
  bool take(Pipe& p) {
    if (!free_.empty()) {
      p = free_.back();
      free_.pop_back();
      return true;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
    fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(chunk_size));
    p = {fds[0], fds[1]};
    return true;
  }
  /// Only empty pipes come back.
  void give(Pipe p) {
    if (free_.size() < 256) free_.push_back(p);
    else close_pipe(p);
  }
  static void close_pipe(Pipe p) {
    ::close(p.read);
    ::close(p.write);
  }
  ~PipePool() {
    for (auto p : free_) close_pipe(p);
  }

private:
  std::vector<Pipe> free_;
};

PipePool& pipe_pool() {
  thread_local PipePool pool;
  return pool;
}

/// splice() only with HOPGATE_SPLICE=1: on loopback here the buffered copy measured faster
/// (bench/NOTES.md, "Relay"), so it stays the default; both paths are kept for benchmarking.
bool splice_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("HOPGATE_SPLICE");
    return v && std::string_view(v) == "1";
  }();
  return enabled;
}

struct Activity {
  Clock::time_point last = Clock::now();
  bool failed = false;
};

enum class SpliceStep { ok, eof, unsupported, failed };

/// Zero-copy direction: socket -> pipe -> socket inside the kernel.
awaitable<SpliceStep> splice_pump(tcp::socket& from, tcp::socket& to, std::atomic<std::uint64_t>& count, Activity& activity) {
  int in = from.native_handle();
  int out = to.native_handle();
  for (;;) {
    auto [wec] = co_await from.async_wait(tcp::socket::wait_read, use_nothrow);
    if (wec) co_return SpliceStep::failed;
    PipePool::Pipe pipe;
    if (!pipe_pool().take(pipe)) co_return SpliceStep::unsupported;
    ssize_t n = ::splice(in, nullptr, pipe.write, nullptr, chunk_size, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0) {
      int err = errno;
      pipe_pool().give(pipe);
      if (err == EAGAIN || err == EINTR) continue;
      co_return err == EINVAL ? SpliceStep::unsupported : SpliceStep::failed;
    }
    if (n == 0) {
      pipe_pool().give(pipe);
      co_return SpliceStep::eof;
    }
    activity.last = Clock::now();
    count.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    std::size_t left = static_cast<std::size_t>(n);
    while (left > 0) {
      ssize_t m = ::splice(pipe.read, nullptr, out, nullptr, left, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m > 0) {
        left -= static_cast<std::size_t>(m);
        continue;
      }
      if (m < 0 && (errno == EAGAIN || errno == EINTR)) {
        auto [ec2] = co_await to.async_wait(tcp::socket::wait_write, use_nothrow);
        if (!ec2) continue;
      }
      // The pipe still holds bytes nobody will read: close it rather than reuse it.
      PipePool::close_pipe(pipe);
      co_return SpliceStep::failed;
    }
    pipe_pool().give(pipe);
  }
}

awaitable<void> pump(tcp::socket& from, tcp::socket& to, std::atomic<std::uint64_t>& count, Activity& activity) {
  if (splice_enabled()) {
    auto step = co_await splice_pump(from, to, count, activity);
    if (step == SpliceStep::eof) {
      error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (step == SpliceStep::failed) {
      activity.failed = true;
      error_code ignored;
      from.close(ignored);
      to.close(ignored);
      co_return;
    }
    // unsupported: fall through to the buffered copy
  }
  for (;;) {
    auto [wec] = co_await from.async_wait(tcp::socket::wait_read, use_nothrow);
    if (wec) {
      activity.failed = true;
      break;
    }
    error_code ec;
    std::uint8_t* buf = thread_buffer();
    std::size_t n = from.read_some(asio::buffer(buf, chunk_size), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec == asio::error::eof) {
      error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (ec) {
      activity.failed = true;
      break;
    }
    activity.last = Clock::now();
    count.fetch_add(n, std::memory_order_relaxed);
    std::size_t sent = to.write_some(asio::buffer(buf, n), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      sent = 0;
      ec = {};
    }
    if (ec) {
      activity.failed = true;
      break;
    }
    if (sent < n) {
      // The peer is slower than us: keep the rest until it drains (the only buffer an
      // active tunnel holds), and stop reading meanwhile (back-pressure).
      std::vector<std::uint8_t> rest(buf + sent, buf + n);
      auto [aec, m] = co_await asio::async_write(to, asio::buffer(rest), use_nothrow);
      (void)m;
      if (aec) {
        activity.failed = true;
        break;
      }
      activity.last = Clock::now();
    }
  }
  // On error both sides go down: the other direction's wait then ends too.
  error_code ignored;
  from.close(ignored);
  to.close(ignored);
}

awaitable<void> watchdog(Clock::duration idle, Activity& activity) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_at(activity.last + idle);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    if (ec) co_return; // cancelled: the tunnel ended
    if (Clock::now() >= activity.last + idle) co_return;
  }
}

awaitable<error_code> write_first(tcp::socket& to, std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) co_return error_code{};
  auto [ec, n] = co_await asio::async_write(to, asio::buffer(bytes.data(), bytes.size()), use_nothrow);
  (void)n;
  co_return ec;
}

} // namespace

awaitable<RelayEnd> run(tcp::socket& client, tcp::socket& upstream, Clock::duration idle, Counters& counters,
                        std::span<const std::uint8_t> to_upstream_first, std::span<const std::uint8_t> to_client_first) {
  if (co_await write_first(upstream, to_upstream_first)) co_return RelayEnd::error;
  counters.up.fetch_add(to_upstream_first.size(), std::memory_order_relaxed);
  if (co_await write_first(client, to_client_first)) co_return RelayEnd::error;
  counters.down.fetch_add(to_client_first.size(), std::memory_order_relaxed);

  error_code ec;
  client.non_blocking(true, ec);
  upstream.non_blocking(true, ec);
  Activity activity;
  auto result = co_await ((pump(client, upstream, counters.up, activity) && pump(upstream, client, counters.down, activity)) ||
                          watchdog(idle, activity));
  if (result.index() == 1) {
    error_code ignored;
    client.close(ignored);
    upstream.close(ignored);
    co_return RelayEnd::idle_timeout;
  }
  co_return activity.failed ? RelayEnd::error : RelayEnd::closed;
}

} // namespace hopgate::relay
