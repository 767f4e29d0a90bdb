// Many concurrent SOCKS5 tunnels, and one large download, through the real hopgate binary.
#include "socks_test_common.hpp"
#include "support/curl.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/sha256.hpp"

#include <boost/asio.hpp>
#include <cstdlib>
#include <future>
#include <gtest/gtest.h>

using namespace hopgate::test;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct SessionOutcome {
  bool ok = false;
  std::string error;
};

/// One SOCKS5 client session: handshake, wait until all sessions are connected, then send `data`
/// while reading the echo, shut down the write side and read until EOF.
asio::awaitable<void> echo_session(std::uint16_t proxy, std::uint16_t echo_port, std::uint64_t seed,
                                   std::size_t size, std::size_t& connected, std::size_t total,
                                   asio::steady_timer& all_connected, SessionOutcome& out) {
  auto ex = co_await asio::this_coro::executor;
  std::string stage = "connect";
  try {
    tcp::socket s(ex);
    co_await s.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), proxy), asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    stage = "greeting";
    std::uint8_t greet[3] = {5, 1, 0};
    co_await asio::async_write(s, asio::buffer(greet), asio::use_awaitable);
    std::uint8_t method[2];
    co_await asio::async_read(s, asio::buffer(method), asio::use_awaitable);
    if (method[0] != 5 || method[1] != 0) throw std::runtime_error("method reply " + to_hex(method));
    stage = "request";
    std::uint8_t req[10] = {5, 1, 0, 1, 127, 0, 0, 1, static_cast<std::uint8_t>(echo_port >> 8),
                            static_cast<std::uint8_t>(echo_port & 0xff)};
    co_await asio::async_write(s, asio::buffer(req), asio::use_awaitable);
    std::uint8_t rep[10];
    co_await asio::async_read(s, asio::buffer(rep), asio::use_awaitable);
    if (rep[0] != 5 || rep[1] != 0 || rep[3] != 1) throw std::runtime_error("CONNECT reply " + to_hex(rep));

    stage = "waiting for the others";
    if (++connected == total) all_connected.cancel();
    else {
      boost::system::error_code ec;
      co_await all_connected.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

    stage = "echo";
    auto data = deterministic_bytes(seed, size);
    std::vector<std::uint8_t> back;
    back.reserve(size);
    // Writer runs concurrently with the reader below.
    bool write_done = false;
    std::string write_error;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          try {
            co_await asio::async_write(s, asio::buffer(data), asio::use_awaitable);
            s.shutdown(tcp::socket::shutdown_send);
          } catch (const std::exception& e) {
            write_error = e.what();
          }
          write_done = true;
        },
        asio::detached);
    std::vector<std::uint8_t> buf(16384);
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::eof) break;
      if (ec) throw boost::system::system_error(ec);
      back.insert(back.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    }
    while (!write_done) { // the writer finished long before EOF; just make sure before `data` dies
      asio::steady_timer t(ex, std::chrono::milliseconds(1));
      co_await t.async_wait(asio::use_awaitable);
    }
    if (!write_error.empty()) throw std::runtime_error("write: " + write_error);
    if (back != data)
      throw std::runtime_error("echo mismatch: " + std::to_string(back.size()) + " bytes back of " +
                               std::to_string(data.size()));
    out.ok = true;
  } catch (const std::exception& e) {
    out.error = stage + ": " + e.what();
  }
}

/// 200 tunnels open at once, each echoing 64 KiB through the echo server.
void echo_two_hundred_tunnels() {
  constexpr std::size_t kSessions = 200;
  constexpr std::size_t kBytes = 64 * 1024;
  TcpEcho echo;
  HopgateProcess hopgate(socks_only_config());

  asio::io_context io;
  asio::steady_timer all_connected(io, asio::steady_timer::time_point::max());
  std::size_t connected = 0;
  std::vector<SessionOutcome> outcomes(kSessions);
  for (std::size_t i = 0; i < kSessions; ++i)
    asio::co_spawn(io,
                   echo_session(hopgate.port("socks"), echo.port(), 1000 + i, kBytes, connected, kSessions,
                                all_connected, outcomes[i]),
                   asio::detached);
  // Backstop so a hung proxy fails the test instead of hanging it.
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1200 && !finished; ++i) std::this_thread::sleep_for(100ms);
    if (!finished) io.stop();
  });
  io.run();
  finished = true;
  watchdog.join();

  std::size_t ok = 0;
  std::string first_error;
  for (std::size_t i = 0; i < kSessions; ++i) {
    if (outcomes[i].ok) ++ok;
    else if (first_error.empty())
      first_error = "session " + std::to_string(i) + ": " + (outcomes[i].error.empty() ? "did not finish" : outcomes[i].error);
  }
  EXPECT_EQ(connected, kSessions) << "only " << connected << " tunnels were open at once";
  EXPECT_EQ(ok, kSessions) << first_error << "\n--- hopgate log (tail) ---\n"
                           << hopgate.log().substr(hopgate.log().size() > 4000 ? hopgate.log().size() - 4000 : 0);
  EXPECT_EQ(echo.connections_accepted(), kSessions);
  EXPECT_EQ(echo.bytes_echoed(), kSessions * kBytes);
}

/// A download of `size` bytes through --socks5-hostname, checked byte for byte.
void download_intact(std::size_t size) {
  HttpOrigin origin;
  HopgateProcess hopgate(socks_only_config());
  auto expected = std::async(std::launch::async, [size] { return deterministic_sha256(kOriginBytesSeed, size); });

  Sha256 hash;
  std::size_t received = 0;
  auto r = run_curl_stream({"--socks5-hostname", socks_addr(hopgate), origin.url("/bytes/" + std::to_string(size))},
                           120s, [&](std::span<const std::uint8_t> piece) {
                             hash.update(piece);
                             received += piece.size();
                           });
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(received, size);
  EXPECT_EQ(hash.hex_final(), expected.get());
}

} // namespace

TEST(SocksLoad, TwoHundredConcurrentTunnelsEchoSixtyFourKiB) { echo_two_hundred_tunnels(); }

TEST(SocksLoad, DownloadOf256MiBThroughSocks5HostnameIsIntact) { download_intact(256u * 1024 * 1024); }

// The same through the buffered copy that stands in where splice() is refused (HOPGATE_SPLICE=0
// selects it; hopgate inherits this test process's environment): short writes keep the rest
// and resume it, back-pressure included.
TEST(SocksLoad, BufferedCopyRelayEchoesAndDownloadsIntact) {
  ASSERT_EQ(::setenv("HOPGATE_SPLICE", "0", 1), 0);
  echo_two_hundred_tunnels();
  download_intact(64u * 1024 * 1024);
  ::unsetenv("HOPGATE_SPLICE");
}
