// Loopback TCP echo server for bench/compare.sh (workload D). Echoes every byte until EOF, then
// closes; closes right after echoing a read that holds "hg-quit_" (the load programs' last
// message), so that it, not the client or the proxy, keeps the TIME_WAIT state. One thread, one coroutine per connection; an idle connection holds no buffer (it waits
// for readability, then reads into the thread's buffer).
//   hopgate_bench_echo [--listen 127.0.0.1:0]
// Prints "listening 127.0.0.1:PORT" once accepting.
#include "load_common.hpp"

#include <iostream>

using namespace bench;

namespace {

constexpr std::string_view kUsage = "usage: hopgate_bench_echo [--listen HOST:PORT]\n";

std::array<char, 16384> g_buf; // one thread: shared by every connection between waits

asio::awaitable<void> echo(tcp::socket s) {
  boost::system::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  for (;;) {
    co_await s.async_wait(tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    std::size_t n = s.read_some(asio::buffer(g_buf), ec);
    if (ec == asio::error::would_block) continue;
    if (ec || n == 0) break;
    bool quit = std::string_view(g_buf.data(), n).find(kQuitTag) != std::string_view::npos;
    // Small echoes complete at once; a write that blocks copies the rest and waits.
    std::size_t done = 0;
    while (done < n) {
      std::size_t w = s.write_some(asio::buffer(g_buf.data() + done, n - done), ec);
      if (ec == asio::error::would_block) {
        std::string rest(g_buf.data() + done, n - done);
        co_await asio::async_write(s, asio::buffer(rest), asio::redirect_error(asio::use_awaitable, ec));
        done = n;
        break;
      }
      if (ec) co_return;
      done += w;
    }
    if (ec || quit) break;
  }
  s.shutdown(tcp::socket::shutdown_both, ec);
  s.close(ec);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acc) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: back off a little rather than spin.
      asio::steady_timer t(acc.get_executor(), 10ms);
      co_await t.async_wait(asio::use_awaitable);
      continue;
    }
    s.non_blocking(true, ec);
    asio::co_spawn(acc.get_executor(), echo(std::move(s)), asio::detached);
  }
}

} // namespace

int main(int argc, char** argv) {
  Args args(argc, argv, kUsage);
  try {
    raise_fd_limit();
    asio::io_context io(1);
    tcp::acceptor acc(io);
    auto ep = parse_endpoint(args.str("listen", "127.0.0.1:0"), true);
    acc.open(ep.protocol());
    acc.set_option(tcp::acceptor::reuse_address(true));
    acc.bind(ep);
    acc.listen(asio::socket_base::max_listen_connections);
    auto bound = acc.local_endpoint();
    std::cout << "listening " << bound.address().to_string() << ':' << bound.port() << std::endl;
    asio::signal_set sigs(io, SIGINT, SIGTERM);
    sigs.async_wait([&](auto, int) { io.stop(); });
    asio::co_spawn(io, accept_loop(acc), asio::detached);
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "echo: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
