#pragma once
// Asio vocabulary shared by the I/O code: coroutines with errors as values (STYLE habit 2).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <optional>
#include <tuple>

namespace hopgate {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using boost::system::error_code;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

using Clock = std::chrono::steady_clock;

/// A non-blocking system call that failed with `err` (errno) only has to wait for readiness.
inline bool retry_later(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

template <class Rep, class Period> Clock::duration to_clock(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<Clock::duration>(d);
}

/// Runs `op` with a deadline; returns nullopt (after cancelling op) if the deadline passes first.
template <class T, class Duration> awaitable<std::optional<T>> with_timeout(awaitable<T> op, Duration d) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, to_clock(d));
  auto result = co_await (std::move(op) || timer.async_wait(use_nothrow));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  co_return std::nullopt;
}

/// A deadline for the one operation in flight on a socket (or acceptor), without a coroutine:
/// when it passes, the target's operations are cancelled. with_deadline() below is how it is
/// used; the settle-then-post step there is what makes the timer's handler safe to refer to it.
/// Cheaper than with_timeout on hot paths: one timer wait with a plain handler instead of a
/// parallel group that spawns a coroutine for each side. Only for an operation that is alone on
/// its target, or whose neighbours may fail with it (cancel() stops every operation on it).
class Deadline {
public:
  template <class Target>
  Deadline(Target& target, Clock::duration limit) : timer_(target.get_executor(), limit) {
    // The handler refers to this object; settle() makes sure it has run, or will run with
    // operation_aborted and touch nothing, before the object goes away.
    timer_.async_wait([&target, this](const error_code& ec) {
      if (ec) return;
      fired_ = true;
      error_code ignored;
      target.cancel(ignored);
    });
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  /// Stops the timer. True when it had fired already: its handler is queued (or has run), and
  /// the caller must let one turn of the io_context pass (a post) before this object goes away.
  bool settle() { return timer_.cancel() == 0; }
  bool fired() const { return fired_; }

private:
  asio::steady_timer timer_;
  bool fired_ = false;
};

/// `op` on `target` within `limit` (see Deadline); the error becomes asio::error::timed_out
/// when the deadline cut it short.
template <class Target, class... Rest>
awaitable<std::tuple<error_code, Rest...>> with_deadline(awaitable<std::tuple<error_code, Rest...>> op, Target& target,
                                                         Clock::duration limit) {
  if (limit <= Clock::duration::zero()) {
    std::tuple<error_code, Rest...> r{};
    std::get<0>(r) = asio::error::timed_out;
    co_return r;
  }
  Deadline deadline(target, limit);
  auto r = co_await std::move(op);
  if (deadline.settle()) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  if (deadline.fired() && std::get<0>(r) == asio::error::operation_aborted) std::get<0>(r) = asio::error::timed_out;
  co_return r;
}

} // namespace hopgate
