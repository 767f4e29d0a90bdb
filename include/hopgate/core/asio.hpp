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

/// Runs one operation on `target` (a socket or acceptor) with a deadline: when it passes, the
/// target's operations are cancelled and the result's error becomes asio::error::timed_out.
/// Cheaper than with_timeout on hot paths: one timer wait with a plain handler instead of a
/// parallel group that spawns a coroutine for each side. Only for operations that are alone on
/// `target` (cancel() stops every operation on it).
template <class Target, class... Rest>
awaitable<std::tuple<error_code, Rest...>> with_deadline(awaitable<std::tuple<error_code, Rest...>> op, Target& target,
                                                         Clock::duration limit) {
  if (limit <= Clock::duration::zero()) {
    std::tuple<error_code, Rest...> r{};
    std::get<0>(r) = asio::error::timed_out;
    co_return r;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  bool fired = false;
  // The handler refers to this frame; the frame lives until the handler has run or will run
  // with operation_aborted (and then touches nothing), see below.
  timer.async_wait([&target, &fired](const error_code& ec) {
    if (ec) return;
    fired = true;
    error_code ignored;
    target.cancel(ignored);
  });
  auto r = co_await std::move(op);
  if (timer.cancel() == 0) {
    // The timer had fired already: its handler is queued (or done). One turn through the
    // io_context lets it run before this frame goes away.
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  }
  if (fired && std::get<0>(r) == asio::error::operation_aborted) std::get<0>(r) = asio::error::timed_out;
  co_return r;
}

} // namespace hopgate
