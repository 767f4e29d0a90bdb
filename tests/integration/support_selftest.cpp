// Self-tests of the integration-test support library (tests/support): cheap checks that the
// fixtures the real tests rely on behave as documented.
#include "support/curl.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/peers.hpp"
#include "support/process.hpp"
#include "support/sha256.hpp"
#include "support/socks_wire.hpp"
#include "support/tools.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace hopgate::test;

TEST(SupportSha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(std::string_view("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(std::string_view("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h; // one million 'a', fed in uneven pieces
  std::string piece(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    size_t k = std::min(left, piece.size());
    h.update(piece.data(), k);
    left -= k;
  }
  EXPECT_EQ(h.hex_final(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(SupportSha256, HardwareAndPortablePathsAgree) {
  // Without the CPU extensions both objects take the portable path and this is trivially true.
  for (size_t n : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 127u, 128u, 1000u, 100000u}) {
    SCOPED_TRACE(n);
    auto data = deterministic_bytes(n, n);
    Sha256 fast(true), portable(false);
    // Uneven pieces exercise the buffering around the multi-block path.
    size_t off = 0, step = 7;
    while (off < data.size()) {
      size_t k = std::min(step, data.size() - off);
      fast.update(data.data() + off, k);
      off += k;
      step = step * 3 % 251 + 1;
    }
    portable.update(data);
    EXPECT_EQ(fast.hex_final(), portable.hex_final());
  }
}

TEST(SupportDeterministicBytes, IndependentOfChunking) {
  auto whole = deterministic_bytes(42, 100003);
  DeterministicStream s(42);
  std::vector<std::uint8_t> pieces(whole.size());
  size_t off = 0, step = 1;
  while (off < pieces.size()) {
    size_t k = std::min(step, pieces.size() - off);
    s.fill(pieces.data() + off, k);
    off += k;
    step = step % 13 + 1;
  }
  EXPECT_EQ(whole, pieces);
  EXPECT_NE(deterministic_bytes(1, 64), deterministic_bytes(2, 64));
  EXPECT_EQ(deterministic_sha256(42, whole.size()), sha256_hex(whole));
}

TEST(SupportTools, MissingToolFailsWithInstallHint) {
  EXPECT_TRUE(find_tool("sh").has_value());
  EXPECT_FALSE(find_tool("hopgate-no-such-tool").has_value());
  // require_tool must fail loudly; capture the failure it reports.
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    try {
      require_tool("hopgate-no-such-tool", "hopgate-pkg");
      ADD_FAILURE() << "require_tool returned for a missing tool";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "hopgate-no-such-tool not found: apt-get install hopgate-pkg");
    }
  }
  ASSERT_EQ(failures.size(), 1);
  EXPECT_NE(std::string(failures.GetTestPartResult(0).message()).find("apt-get install hopgate-pkg"),
            std::string::npos);
}

TEST(SupportProcess, CapturesOutputAndStopsByPid) {
  ChildProcess p({"sh", "-c", "echo ready; echo oops >&2; exec sleep 30"});
  ASSERT_TRUE(p.wait_for_output("ready", 5s)) << p.output();
  ASSERT_TRUE(p.wait_for_output("oops", 5s)) << p.output();
  auto m = p.wait_for_output(std::regex("rea(d)y"), 1s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ((*m)[1], "d");
  EXPECT_TRUE(p.running());
  auto st = p.stop(SIGTERM, 5s);
  EXPECT_TRUE(st.signaled()) << st.describe();
  EXPECT_EQ(st.signal(), SIGTERM);
  EXPECT_FALSE(p.running());

  ChildProcess q({"sh", "-c", "exit 3"});
  auto st2 = q.wait(5s);
  ASSERT_TRUE(st2.has_value());
  EXPECT_EQ(st2->exit_code(), 3);
  EXPECT_FALSE(q.wait_for_output("never", 1s));
}

TEST(SupportNet, FreePortsAndTimeouts) {
  EXPECT_NE(free_tcp_port(), 0);
  EXPECT_NE(free_udp_port(), 0);
  std::string err;
  EXPECT_FALSE(try_connect_tcp("127.0.0.1", free_tcp_port(), 2s, &err));
  EXPECT_FALSE(err.empty());
  TcpEcho echo;
  Fd fd = connect_tcp("127.0.0.1", echo.port());
  EXPECT_FALSE(recv_exact(fd, 1, 100ms).has_value()); // nothing to read: times out
}

TEST(SupportOrigin, TcpEchoEchoesAndPropagatesHalfClose) {
  TcpEcho echo(ListenOptions{.ipv4 = true, .ipv6 = true});
  for (const char* host : {"127.0.0.1", "::1"}) {
    SCOPED_TRACE(host);
    Fd fd = connect_tcp(host, echo.port());
    auto data = deterministic_bytes(7, 300000);
    ASSERT_TRUE(send_all(fd, data));
    shutdown_write(fd);
    auto r = recv_until_close(fd, 10s);
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(r.data == data) << "echoed " << r.data.size() << " of " << data.size() << " bytes";
  }
  EXPECT_EQ(echo.connections_accepted(), 2u);
  EXPECT_EQ(echo.peers().size(), 2u);
}

TEST(SupportOrigin, UdpEchoEchoes) {
  UdpEcho echo(ListenOptions{.ipv4 = true, .ipv6 = true});
  for (bool v6 : {false, true}) {
    Fd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      a->sin6_port = htons(echo.port_v6());
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a->sin_port = htons(echo.port_v4());
      len = sizeof *a;
    }
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
    ASSERT_TRUE(send_all(fd, std::string_view("ping")));
    auto r = recv_exact(fd, 4, 5s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(std::string(r->begin(), r->end()), "ping");
  }
  EXPECT_EQ(echo.datagrams(), 2u);
}

TEST(SupportOrigin, HttpOriginServesItsRoutesOverKeepAlive) {
  HttpOrigin origin(ListenOptions{.ipv4 = true, .ipv6 = true});
  auto r = run_curl({origin.url("/hello"), origin.url("/hello"), origin.url6("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\nhello from origin\nhello from origin\n");
  // The first two shared one connection; the IPv6 one needed another.
  EXPECT_EQ(origin.connections_accepted(), 2u);
  EXPECT_EQ(origin.requests(), 3u);

  auto bytes = run_curl({origin.url("/bytes/1000000")});
  ASSERT_TRUE(bytes.ok()) << bytes.describe();
  EXPECT_EQ(sha256_hex(bytes.out), deterministic_sha256(kOriginBytesSeed, 1000000));

  auto echo = run_curl({"--data-binary", "some body", origin.url("/echo")});
  ASSERT_TRUE(echo.ok()) << echo.describe();
  EXPECT_EQ(echo.out, "some body");

  auto chunked = run_curl({"-H", "Transfer-Encoding: chunked", "--data-binary", "chunked body", origin.url("/echo")});
  ASSERT_TRUE(chunked.ok()) << chunked.describe();
  EXPECT_EQ(chunked.out, "chunked body");

  auto headers = run_curl({"-H", "X-Test: yes", origin.url("/headers")});
  ASSERT_TRUE(headers.ok()) << headers.describe();
  EXPECT_EQ(headers.out.rfind("GET /headers HTTP/1.1\r\n", 0), 0u) << headers.out;
  EXPECT_NE(headers.out.find("\r\nX-Test: yes\r\n"), std::string::npos) << headers.out;
  EXPECT_TRUE(headers.out.ends_with("\r\n\r\n")) << headers.out;

  auto missing = run_curl({"--fail", origin.url("/nope")});
  EXPECT_EQ(missing.exit_code, 22) << missing.describe();
}

TEST(SupportPeers, MicrosocksRelaysToOrigin) {
  HttpOrigin origin;
  Microsocks plain;
  auto r = run_curl({"--socks5", plain.address(), origin.url("/hello")});
  EXPECT_TRUE(r.ok()) << r.describe() << "\n" << plain.log();
  EXPECT_EQ(r.out, "hello from origin\n");

  Microsocks authed(Credentials{"bob", "pw"});
  auto ok = run_curl({"--socks5", authed.address(), "--proxy-user", "bob:pw", origin.url("/hello")});
  EXPECT_EQ(ok.out, "hello from origin\n") << ok.describe();
  auto bad = run_curl({"--socks5", authed.address(), "--proxy-user", "bob:wrong", origin.url("/hello")});
  EXPECT_FALSE(bad.ok());
}

TEST(SupportPeers, DanteRelaysSocks4And5) {
  HttpOrigin origin;
  Dante dante;
  for (const char* flag : {"--socks4", "--socks5"}) {
    auto r = run_curl({flag, dante.address(), origin.url("/hello")});
    EXPECT_EQ(r.out, "hello from origin\n") << flag << ": " << r.describe() << "\n" << dante.log();
  }
}

TEST(SupportPeers, TinyproxyForwardsAndTunnels) {
  HttpOrigin origin;
  Tinyproxy tp;
  auto fwd = run_curl({"--proxy", "http://" + tp.address(), origin.url("/hello")});
  EXPECT_EQ(fwd.out, "hello from origin\n") << fwd.describe() << "\n" << tp.log();
  auto tun = run_curl({"--proxytunnel", "--proxy", "http://" + tp.address(), origin.url("/hello")});
  EXPECT_EQ(tun.out, "hello from origin\n") << tun.describe() << "\n" << tp.log();

  Tinyproxy authed(Credentials{"carol", "pw"});
  auto denied = run_curl({"--proxy", "http://" + authed.address(), "-o", "/dev/null", "-w", "%{http_code}",
                          origin.url("/hello")});
  EXPECT_EQ(denied.out, "407") << denied.describe();
  auto allowed = run_curl({"--proxy", "http://" + authed.address(), "--proxy-user", "carol:pw", origin.url("/hello")});
  EXPECT_EQ(allowed.out, "hello from origin\n") << allowed.describe();
}
