// Connection setup rate through a SOCKS5 proxy (bench/compare.sh, workload D).
//
//   hopgate_setup_rate --proxy HOST:PORT --target HOST:PORT [--clients 64] [--duration S]
//                      [--threads T] [--timeout S] [--direct]
//
// Each of the clients loops for the duration: connect to the proxy, SOCKS5 CONNECT to the target
// (hopgate_bench_echo; no pipelining), one 16-byte echo round trip after which the echo server
// closes, read that end of stream through the proxy, close. Prints
//   rate=R ok=N failed=F p50_ms=A p99_ms=B seconds=T
// where R is completed cycles per second. With --direct the clients connect to the target itself
// (the ceiling on this machine). Error counts go to stderr.
#include "load_common.hpp"

#include <algorithm>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

using namespace bench;

namespace {

constexpr std::string_view kUsage =
    "usage: hopgate_setup_rate --proxy HOST:PORT --target HOST:PORT [--clients 64] [--duration S]\n"
    "         [--threads T] [--timeout S] [--direct]\n";

struct Worker {
  std::size_t ok = 0;
  std::size_t failed = 0;
  std::vector<float> latency_ms;
  std::map<std::string, std::size_t> errors;
};

struct Plan {
  std::optional<tcp::endpoint> proxy;
  tcp::endpoint target;
  std::chrono::steady_clock::time_point until;
  std::chrono::steady_clock::duration timeout;
};

asio::awaitable<void> client(const Plan& plan, Worker& w, std::uint32_t id) {
  auto ex = co_await asio::this_coro::executor;
  std::uint32_t seq = id * 1000003u;
  w.latency_ms.reserve(1 << 16);
  bool failed_now = false;
  while (std::chrono::steady_clock::now() < plan.until) {
    auto t0 = std::chrono::steady_clock::now();
    tcp::socket s(ex);
    try {
      co_await with_deadline(s, plan.timeout, [&]() -> asio::awaitable<void> {
        co_await s.async_connect(plan.proxy ? *plan.proxy : plan.target, asio::use_awaitable);
        s.set_option(tcp::no_delay(true));
        if (plan.proxy) co_await socks5_connect(s, plan.target);
        co_await echo_round_trip(s, ++seq, true); // the server closes first
      });
      auto t1 = std::chrono::steady_clock::now();
      if (t1 <= plan.until) {
        ++w.ok;
        w.latency_ms.push_back(std::chrono::duration<float, std::milli>(t1 - t0).count());
      }
    } catch (const std::exception& e) {
      // Every attempt started in the window counts, also one that fails after it.
      ++w.failed;
      ++w.errors[error_label(e)];
      failed_now = true;
    }
    boost::system::error_code ec;
    s.close(ec);
    if (failed_now) {
      // Do not spin on a proxy that refuses at once.
      failed_now = false;
      asio::steady_timer t(ex, 5ms);
      co_await t.async_wait(asio::use_awaitable);
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  Args args(argc, argv, kUsage);
  Plan plan;
  try {
    if (!args.has("direct")) plan.proxy = parse_endpoint(args.need("proxy"));
    plan.target = parse_endpoint(args.need("target"));
  } catch (const std::exception& e) {
    args.die(e.what());
  }
  auto clients = static_cast<std::size_t>(args.num("clients", 64));
  double duration = args.num("duration", 10);
  auto threads = std::max<std::size_t>(1, static_cast<std::size_t>(args.num("threads", 1)));
  plan.timeout = std::chrono::milliseconds(static_cast<long>(args.num("timeout", 5) * 1000));
  raise_fd_limit();

  std::vector<std::unique_ptr<asio::io_context>> ios;
  for (std::size_t t = 0; t < threads; ++t) ios.push_back(std::make_unique<asio::io_context>(1));
  std::vector<Worker> workers(clients);
  auto t0 = std::chrono::steady_clock::now();
  plan.until = t0 + std::chrono::milliseconds(static_cast<long>(duration * 1000));
  for (std::size_t c = 0; c < clients; ++c) {
    asio::co_spawn(*ios[c % threads], client(plan, workers[c], static_cast<std::uint32_t>(c)), asio::detached);
  }
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back([&, t] { ios[t]->run(); });
  ios[0]->run();
  for (auto& th : pool) th.join();
  double secs = std::chrono::duration<double>(plan.until - t0).count();

  std::size_t ok = 0, failed = 0;
  std::vector<float> lat;
  std::map<std::string, std::size_t> errors;
  for (auto& w : workers) {
    ok += w.ok;
    failed += w.failed;
    lat.insert(lat.end(), w.latency_ms.begin(), w.latency_ms.end());
    for (auto& [k, v] : w.errors) errors[k] += v;
  }
  auto pct = [&](double p) -> double {
    if (lat.empty()) return 0;
    std::size_t i = std::min(lat.size() - 1, static_cast<std::size_t>(p * static_cast<double>(lat.size())));
    std::nth_element(lat.begin(), lat.begin() + static_cast<std::ptrdiff_t>(i), lat.end());
    return lat[i];
  };
  double p50 = pct(0.50), p99 = pct(0.99);
  std::cout << "rate=" << static_cast<double>(ok) / secs << " ok=" << ok << " failed=" << failed
            << " p50_ms=" << p50 << " p99_ms=" << p99 << " seconds=" << secs << std::endl;
  for (auto& [what, n] : errors) std::cerr << "  " << n << " x " << what << '\n';
  return ok > 0 ? 0 : 1;
}
