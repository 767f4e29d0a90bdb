// Many concurrent idle SOCKS5 tunnels (bench/compare.sh, workload D).
//
//   hopgate_idle_tunnels --proxy HOST:PORT --target HOST:PORT [--count N] [--parallel P]
//                        [--timeout S] [--open-seconds S] [--max-failures F] [--hold S] [--direct]
//
// Opens N SOCKS5 CONNECTs through the proxy to the target (an echo server), at most P
// handshakes in flight, and checks each with one echo round trip. When every attempt has ended
// it prints
//   ready ok=K failed=F seconds=T
// and holds the tunnels, idle, until SIGUSR1 (or --hold seconds). Then it checks every held
// tunnel with a second round trip (after which the echo server closes it), and prints
//   final ok=K alive=A failed=F
// Exit status 0 when all N were opened and are still alive. Error counts go to stderr.
// Opening stops early after --open-seconds or --max-failures, so a proxy that cannot reach N
// reports how far it got.
#include "load_common.hpp"

#include <csignal>
#include <iostream>
#include <optional>
#include <vector>

using namespace bench;

namespace {

constexpr std::string_view kUsage =
    "usage: hopgate_idle_tunnels --proxy HOST:PORT --target HOST:PORT [--count N] [--parallel P]\n"
    "         [--timeout S] [--open-seconds S] [--max-failures F] [--hold S] [--direct]\n";

struct State {
  std::optional<tcp::endpoint> proxy; // nullopt: --direct
  tcp::endpoint target;
  std::size_t count = 0;
  std::chrono::steady_clock::duration timeout{};
  std::chrono::steady_clock::time_point open_until{};
  std::size_t max_failures = 0;

  std::vector<tcp::socket> tunnels;
  std::size_t next = 0;
  std::size_t ok = 0;
  std::size_t failed = 0;
  std::size_t alive = 0;
  std::map<std::string, std::size_t> errors;

  void fail(const std::string& what) {
    ++failed;
    ++errors[what];
  }
  bool stop_opening() const {
    return next >= count || failed >= max_failures || std::chrono::steady_clock::now() >= open_until;
  }
};

asio::awaitable<void> opener(State& st) {
  auto ex = co_await asio::this_coro::executor;
  while (!st.stop_opening()) {
    std::size_t i = st.next++;
    tcp::socket s(ex);
    try {
      co_await with_deadline(s, st.timeout, [&]() -> asio::awaitable<void> {
        co_await s.async_connect(st.proxy ? *st.proxy : st.target, asio::use_awaitable);
        s.set_option(tcp::no_delay(true));
        if (st.proxy) co_await socks5_connect(s, st.target);
        co_await echo_round_trip(s, static_cast<std::uint32_t>(i));
      });
      st.tunnels.push_back(std::move(s));
      ++st.ok;
    } catch (const std::exception& e) {
      st.fail(error_label(e));
    }
  }
}

asio::awaitable<void> checker(State& st, std::size_t& next) {
  while (next < st.tunnels.size()) {
    std::size_t i = next++;
    auto& s = st.tunnels[i];
    try {
      co_await with_deadline(s, st.timeout, [&]() -> asio::awaitable<void> {
        co_await echo_round_trip(s, static_cast<std::uint32_t>(i + 1), true); // the server closes first
      });
      ++st.alive;
    } catch (const std::exception& e) {
      ++st.errors["check: " + error_label(e)];
    }
  }
}

void print_errors(const State& st) {
  for (auto& [what, n] : st.errors) std::cerr << "  " << n << " x " << what << '\n';
}

} // namespace

int main(int argc, char** argv) {
  Args args(argc, argv, kUsage);
  State st;
  try {
    if (!args.has("direct")) st.proxy = parse_endpoint(args.need("proxy"));
    st.target = parse_endpoint(args.need("target"));
  } catch (const std::exception& e) {
    args.die(e.what());
  }
  st.count = static_cast<std::size_t>(args.num("count", 10000));
  auto parallel = static_cast<std::size_t>(args.num("parallel", 128));
  st.timeout = std::chrono::milliseconds(static_cast<long>(args.num("timeout", 10) * 1000));
  auto open_for = std::chrono::milliseconds(static_cast<long>(args.num("open-seconds", 120) * 1000));
  st.max_failures = static_cast<std::size_t>(args.num("max-failures", 100));
  double hold = args.num("hold", 300);

  auto limit = raise_fd_limit();
  if (limit < st.count + 64) {
    std::cerr << "warning: fd limit " << limit << " is below --count " << st.count << '\n';
  }
  st.tunnels.reserve(st.count);

  // SIGUSR1 ends the hold; block it before anything can send it (signal_set installs the handler).
  asio::io_context io(1);
  asio::signal_set sigs(io, SIGUSR1, SIGTERM, SIGINT);

  auto t0 = std::chrono::steady_clock::now();
  st.open_until = t0 + open_for;
  std::size_t running = std::min(parallel, st.count);
  auto after_open = [&]() -> asio::awaitable<void> {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "ready ok=" << st.ok << " failed=" << st.failed << " seconds=" << secs << std::endl;
    print_errors(st);

    // Hold until told (SIGUSR1 / SIGTERM) or --hold runs out.
    asio::steady_timer hold_timer(io);
    hold_timer.expires_after(std::chrono::milliseconds(static_cast<long>(hold * 1000)));
    co_await (sigs.async_wait(asio::use_awaitable) || hold_timer.async_wait(asio::use_awaitable));

    std::size_t next = 0;
    std::size_t n_check = std::min<std::size_t>(parallel, st.tunnels.size());
    std::size_t done = 0;
    asio::steady_timer all_done(io, asio::steady_timer::time_point::max());
    for (std::size_t k = 0; k < n_check; ++k) {
      asio::co_spawn(io, checker(st, next), [&](std::exception_ptr) {
        if (++done == n_check) all_done.cancel();
      });
    }
    if (n_check > 0) {
      boost::system::error_code ec;
      co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    std::cout << "final ok=" << st.ok << " alive=" << st.alive << " failed=" << st.failed << std::endl;
    print_errors(st);
    for (auto& s : st.tunnels) {
      boost::system::error_code ec;
      s.close(ec);
    }
    sigs.cancel();
  };

  if (running == 0) {
    asio::co_spawn(io, after_open(), asio::detached);
  } else {
    std::size_t finished = 0;
    for (std::size_t k = 0; k < running; ++k) {
      asio::co_spawn(io, opener(st), [&](std::exception_ptr) {
        if (++finished == running) asio::co_spawn(io, after_open(), asio::detached);
      });
    }
  }
  io.run();
  return (st.ok == st.count && st.alive == st.count) ? 0 : 1;
}
