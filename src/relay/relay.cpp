#include "hopgate/relay/relay.hpp"

#include <boost/asio/write.hpp>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <sys/socket.h>
#include <memory>
#include <unistd.h>
#include <utility>
#include <vector>

namespace hopgate::relay {
namespace {

constexpr std::size_t chunk_size = 256 * 1024; ///< buffered copy: bytes per read
/// splice: pipe capacity and bytes asked per splice. Against 256 KiB, 512 KiB and 1 MiB pipes cost
/// about 0.42 instead of 0.47 CPU s/GiB for a 256 MiB download here (bench/NOTES.md); 512 KiB
/// keeps the bytes a slow peer can leave in flight per direction at half of what 1 MiB would.
constexpr std::size_t pipe_size = 512 * 1024;

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
    fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_size));
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

/// splice() unless HOPGATE_SPLICE=0. Measured on loopback here (bench/NOTES.md, run of 02:47): the
/// splice path moves a 256 MiB download at 0.44 CPU s/GiB against 0.83 for the 64 KiB buffered
/// copy, and faster. The copy stays as the fallback (where splice() refuses) and for comparison.
bool splice_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("HOPGATE_SPLICE");
    return !(v && std::string_view(v) == "0");
  }();
  return enabled;
}

enum class Step { more, wait_read, wait_write, eof, failed, unsupported };

} // namespace

/// One tunnel: both sockets and its two directions, driven by plain completion handlers rather
/// than coroutines, so an idle tunnel holds this object, two socket waits and a timer, not a
/// tree of coroutine frames (bench/NOTES.md). It lives on the heap and goes away by itself: each
/// pending handler holds it (Hold), and when the last one lets go the tunnel is over (and says
/// so to its TunnelEnd), or abandoned because its io_context is being destroyed with the
/// handlers unrun. Everything runs on the sockets' io_context, one handler at a time.
class Tunnel {
public:
  Tunnel(tcp::socket client, tcp::socket upstream, Clock::duration idle, Counters& counters,
         std::unique_ptr<TunnelEnd> on_end)
      : client_(std::move(client)), upstream_(std::move(upstream)), idle_(idle), timer_(client_.get_executor()),
        dirs_{Direction{&client_, &upstream_, &counters.up}, Direction{&upstream_, &client_, &counters.down}},
        on_end_(std::move(on_end)) {
    // The relay's own splice/recv/send calls need non-blocking descriptors. Asio made them so for
    // the handshake's async operations already; only a socket that never had one needs the ioctl.
    error_code ignored;
    if (!client_.native_non_blocking()) client_.native_non_blocking(true, ignored);
    if (!upstream_.native_non_blocking()) upstream_.native_non_blocking(true, ignored);
    on_end_->started(TunnelCloser{this}); // before start(), which may already end the tunnel
  }
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  void start() {
    Hold hold(this); // the tunnel cannot end before both directions had their first turn
    arm_timer(Clock::now() + idle_);
    for (auto& d : dirs_) pump(d);
    settle();
  }

  /// Closes both sockets; the tunnel then ends as failed (admin kill, drain).
  void close() {
    if (!finished()) fail();
  }

private:
  /// A pending handler's claim on the tunnel; the last one released ends it.
  class Hold {
  public:
    explicit Hold(Tunnel* t) : t_(t) { ++t_->pending_; }
    Hold(Hold&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    Hold& operator=(Hold&&) = delete;
    ~Hold() {
      if (t_) t_->release();
    }

  private:
    Tunnel* t_;
  };

  struct Direction {
    Direction(tcp::socket* f, tcp::socket* t, std::atomic<std::uint64_t>* c) : from(f), to(t), count(c) {}
    tcp::socket* from;
    tcp::socket* to;
    std::atomic<std::uint64_t>* count;
    bool done = false;
    bool use_splice = splice_enabled();
    std::vector<std::uint8_t> rest; ///< copy: bytes a write could not take yet, from rest_at on
    std::size_t rest_at = 0;
    PipePool::Pipe pipe;            ///< splice: held only while it has bytes in it
    std::size_t in_pipe = 0;
  };

  /// Moves bytes until the direction has to wait, ends, or has had its share of the thread.
  void pump(Direction& d) {
    for (int turn = 0; turn < 16; ++turn) {
      Step step = d.use_splice ? splice_step(d) : copy_step(d);
      if (step == Step::unsupported) {
        d.use_splice = false;
        continue;
      }
      if (step == Step::more) continue;
      if (step == Step::wait_read) {
        // Going idle: an idle tunnel keeps no buffer (while data flows, `rest` is reused).
        std::vector<std::uint8_t>().swap(d.rest);
        d.rest_at = 0;
        return wait(d, tcp::socket::wait_read);
      }
      if (step == Step::wait_write) return wait(d, tcp::socket::wait_write);
      if (step == Step::eof) {
        error_code ignored;
        d.to->shutdown(tcp::socket::shutdown_send, ignored);
      } else {
        fail();
      }
      d.done = true;
      return;
    }
    // A busy direction lets the other tunnels on this thread have a turn: re-arming the wait
    // goes through epoll, which reports at once what is already readable.
    wait(d, tcp::socket::wait_read);
  }

  /// Buffered copy with plain recv/send; MSG_DONTWAIT keeps each call from blocking the thread
  /// whatever mode the descriptor is in.
  Step copy_step(Direction& d) {
    int in = d.from->native_handle();
    int out = d.to->native_handle();
    if (d.rest_at < d.rest.size()) {
      ssize_t sent = ::send(out, d.rest.data() + d.rest_at, d.rest.size() - d.rest_at, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent < 0) return retry_later(errno) ? Step::wait_write : Step::failed;
      d.rest_at += static_cast<std::size_t>(sent);
      return d.rest_at < d.rest.size() ? Step::wait_write : Step::more;
    }
    std::uint8_t* buf = thread_buffer();
    ssize_t got = ::recv(in, buf, chunk_size, MSG_DONTWAIT);
    if (got < 0) return retry_later(errno) ? Step::wait_read : Step::failed;
    if (got == 0) return Step::eof;
    auto n = static_cast<std::size_t>(got);
    last_ = Clock::now();
    d.count->fetch_add(n, std::memory_order_relaxed);
    ssize_t sent = ::send(out, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      if (!retry_later(errno)) return Step::failed;
      sent = 0;
    }
    if (static_cast<std::size_t>(sent) < n) {
      // The peer is slower than us: keep the rest until it drains, and stop reading meanwhile.
      d.rest.assign(buf + sent, buf + n); // reuses the vector's capacity while data flows
      d.rest_at = 0;
      return Step::wait_write;
    }
    return Step::more;
  }

  /// Zero-copy: socket -> pipe -> socket inside the kernel.
  Step splice_step(Direction& d) {
    int in = d.from->native_handle();
    int out = d.to->native_handle();
    if (d.in_pipe == 0) {
      if (d.pipe.read < 0 && !pipe_pool().take(d.pipe)) return Step::unsupported;
      ssize_t n = ::splice(in, nullptr, d.pipe.write, nullptr, pipe_size, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n <= 0) {
        int err = errno;
        pipe_pool().give(d.pipe); // empty: back to the pool
        d.pipe = {};
        if (n == 0) return Step::eof;
        if (retry_later(err)) return Step::wait_read;
        return err == EINVAL ? Step::unsupported : Step::failed;
      }
      last_ = Clock::now();
      d.count->fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      d.in_pipe = static_cast<std::size_t>(n);
    }
    while (d.in_pipe > 0) {
      ssize_t m = ::splice(d.pipe.read, nullptr, out, nullptr, d.in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m > 0) {
        d.in_pipe -= static_cast<std::size_t>(m);
        continue;
      }
      if (m < 0 && retry_later(errno)) return Step::wait_write;
      return Step::failed;
    }
    return Step::more;
  }

  void wait(Direction& d, tcp::socket::wait_type type) {
    tcp::socket& s = type == tcp::socket::wait_read ? *d.from : *d.to;
    s.async_wait(type, [this, &d, hold = Hold(this)](error_code ec) {
      if (ec || failed_) {
        if (!failed_) fail();
        d.done = true;
      } else {
        pump(d);
      }
      settle();
    });
  }

  void arm_timer(Clock::time_point at) {
    timer_.expires_at(at);
    timer_.async_wait([this, hold = Hold(this)](error_code ec) {
      if (!ec && !finished()) {
        if (Clock::now() >= last_ + idle_) {
          timed_out_ = true;
          close_both();
        } else {
          arm_timer(last_ + idle_);
        }
      }
      settle();
    });
  }

  void fail() {
    failed_ = true;
    close_both();
  }

  /// Both sockets go down: every wait on them then ends with an error.
  void close_both() {
    error_code ignored;
    dirs_[0].from->close(ignored);
    dirs_[1].from->close(ignored);
  }

  bool finished() const { return dirs_[0].done && dirs_[1].done; }

  /// Once both directions are done only the timer can still hold the tunnel: its handler comes
  /// back with operation_aborted.
  void settle() {
    if (finished()) timer_.cancel();
  }

  /// The last claim is gone: the tunnel is over, or its handlers were destroyed unrun (the
  /// io_context is going away; then only the TunnelEnd's destructor runs). The last thing it does.
  void release() {
    if (--pending_ > 0) return;
    for (auto& d : dirs_)
      if (d.pipe.read >= 0) PipePool::close_pipe(d.pipe); // may still hold bytes nobody will read
    auto end = timed_out_ ? RelayEnd::idle_timeout : failed_ ? RelayEnd::error : RelayEnd::closed;
    auto on_end = finished() ? std::move(on_end_) : nullptr;
    delete this; // the sockets close before the end is reported
    if (on_end) (*on_end)(end);
  }

  tcp::socket client_;
  tcp::socket upstream_;
  Clock::duration idle_;
  Clock::time_point last_ = Clock::now();
  asio::steady_timer timer_;
  std::array<Direction, 2> dirs_;
  int pending_ = 0;
  bool failed_ = false;
  bool timed_out_ = false;
  std::unique_ptr<TunnelEnd> on_end_;
};

void TunnelCloser::operator()() const {
  if (tunnel) tunnel->close();
}

awaitable<error_code> write_first(tcp::socket& client, tcp::socket& upstream, Clock::duration idle, Counters& counters,
                                  std::span<const std::uint8_t> to_upstream, std::span<const std::uint8_t> to_client) {
  // A peer that takes none of the bytes read during the handshake for `idle` is gone.
  auto write = [idle](tcp::socket& to, std::span<const std::uint8_t> bytes) -> awaitable<error_code> {
    if (bytes.empty()) co_return error_code{};
    auto [ec, n] = co_await with_deadline(asio::async_write(to, asio::buffer(bytes.data(), bytes.size()), use_nothrow), to, idle);
    (void)n;
    co_return ec;
  };
  auto up_ec = co_await write(upstream, to_upstream);
  if (up_ec) co_return up_ec;
  counters.up.fetch_add(to_upstream.size(), std::memory_order_relaxed);
  auto down_ec = co_await write(client, to_client);
  if (down_ec) co_return down_ec;
  counters.down.fetch_add(to_client.size(), std::memory_order_relaxed);
  co_return error_code{};
}

void start(tcp::socket client, tcp::socket upstream, Clock::duration idle, Counters& counters,
           std::unique_ptr<TunnelEnd> on_end) {
  (new Tunnel(std::move(client), std::move(upstream), idle, counters, std::move(on_end)))->start();
}

} // namespace hopgate::relay
