// The SOCKS front end of the real hopgate binary, driven by curl and by raw sockets.
#include "socks_test_common.hpp"
#include "support/curl.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/sha256.hpp"
#include "support/socks_wire.hpp"

#include <gtest/gtest.h>
#include <thread>

using namespace hopgate::test;
namespace sw = hopgate::test::socks;

namespace {

constexpr auto kCloseWait = 20s; // generous: these waits only end early when the assertion holds

/// Sends `bytes` one byte per write, with a short pause between writes so each is its own segment.
bool send_byte_by_byte(const Fd& fd, const Bytes& bytes) {
  for (auto b : bytes) {
    if (!send_all(fd, std::span<const std::uint8_t>(&b, 1))) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

/// Sends payload through an established tunnel to a TcpEcho and checks it comes back.
void expect_echo(const Fd& fd, const Bytes& payload) {
  ASSERT_TRUE(send_all(fd, payload));
  auto back = recv_exact(fd, payload.size(), 10s);
  ASSERT_TRUE(back.has_value()) << "echo did not come back through the tunnel";
  EXPECT_TRUE(*back == payload) << "echoed bytes differ";
}

std::string bytes_prefix(const Bytes& b, size_t n) { return to_hex(std::span(b.data(), std::min(n, b.size()))); }

} // namespace

// ------------------------------------------------------------------------------------------------
// curl through every SOCKS version

struct CurlCase {
  std::string name;
  std::string flag;     ///< curl option naming the proxy type
  std::string host;     ///< host part of the URL
};

// Keeps ctest's test names short (gtest_discover_tests appends the printed parameter).
void PrintTo(const CurlCase& c, std::ostream* os) { *os << c.flag << " " << c.host; }

class SocksCurl : public ::testing::TestWithParam<CurlCase> {};

TEST_P(SocksCurl, FetchesFromOrigin) {
  const auto& c = GetParam();
  HttpOrigin origin(ListenOptions{.ipv4 = true, .ipv6 = true});
  HopgateProcess hopgate(socks_only_config());
  std::string url = "http://" + c.host + ":" + std::to_string(origin.port()) + "/hello";
  auto r = run_curl({c.flag, socks_addr(hopgate), url});
  EXPECT_TRUE(r.ok()) << r.describe() << "\n--- hopgate log ---\n" << hopgate.log();
  EXPECT_EQ(r.out, "hello from origin\n");
  EXPECT_EQ(origin.requests(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Versions, SocksCurl,
    ::testing::Values(CurlCase{"Socks4_Ipv4", "--socks4", "127.0.0.1"},
                      CurlCase{"Socks4a_Ipv4", "--socks4a", "127.0.0.1"},
                      CurlCase{"Socks5_Ipv4", "--socks5", "127.0.0.1"},
                      CurlCase{"Socks5Hostname_Ipv4", "--socks5-hostname", "127.0.0.1"},
                      CurlCase{"Socks5_Ipv6", "--socks5", "[::1]"},
                      CurlCase{"Socks5Hostname_Localhost", "--socks5-hostname", "localhost"},
                      CurlCase{"Socks4a_Localhost", "--socks4a", "localhost"}),
    [](const auto& info) { return info.param.name; });

// ------------------------------------------------------------------------------------------------
// SOCKS5 username/password authentication (RFC 1929)

TEST(SocksAuth, PasswordListenerAcceptsCurlWithCredentials) {
  HttpOrigin origin;
  HopgateProcess hopgate(socks_only_config("password"));
  auto r = run_curl({"--socks5", socks_addr(hopgate), "--proxy-user", "alice:secret", origin.url("/hello")});
  EXPECT_TRUE(r.ok()) << r.describe() << "\n--- hopgate log ---\n" << hopgate.log();
  EXPECT_EQ(r.out, "hello from origin\n");
}

TEST(SocksAuth, PasswordListenerRefusesCurlWithWrongOrNoCredentials) {
  HttpOrigin origin;
  HopgateProcess hopgate(socks_only_config("password"));
  auto wrong = run_curl({"--socks5", socks_addr(hopgate), "--proxy-user", "alice:wrong", origin.url("/hello")});
  EXPECT_FALSE(wrong.ok()) << wrong.describe();
  EXPECT_EQ(wrong.out, "");
  auto unknown = run_curl({"--socks5", socks_addr(hopgate), "--proxy-user", "mallory:secret", origin.url("/hello")});
  EXPECT_FALSE(unknown.ok()) << unknown.describe();
  auto none = run_curl({"--socks5", socks_addr(hopgate), origin.url("/hello")});
  EXPECT_FALSE(none.ok()) << none.describe();
  EXPECT_EQ(origin.connections_accepted(), 0u) << "an unauthenticated client reached the origin";
}

TEST(SocksAuth, RawWrongPasswordGetsRfc1929FailureThenClose) {
  HopgateProcess hopgate(socks_only_config("password"));
  for (auto [user, pass] : {std::pair<std::string, std::string>{"alice", "wrong"}, {"mallory", "secret"}, {"", ""}}) {
    SCOPED_TRACE(user + ":" + pass);
    Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
    ASSERT_TRUE(send_all(fd, sw::greeting({2})));
    auto method = recv_exact(fd, 2);
    ASSERT_TRUE(method.has_value()) << "no method selection reply";
    EXPECT_EQ(*method, bytes_of({5, 2}));
    ASSERT_TRUE(send_all(fd, sw::userpass(user, pass)));
    auto status = recv_exact(fd, 2);
    ASSERT_TRUE(status.has_value()) << "no RFC 1929 status reply";
    EXPECT_EQ((*status)[0], 1) << to_hex(*status);
    EXPECT_NE((*status)[1], 0) << "wrong credentials accepted: " << to_hex(*status);
    Bytes extra;
    EXPECT_TRUE(wait_closed(fd, kCloseWait, &extra)) << "connection left open after failed authentication";
    EXPECT_TRUE(extra.empty()) << "unexpected bytes after the status: " << to_hex(extra);
  }
}

TEST(SocksAuth, RawCorrectPasswordThenConnect) {
  TcpEcho echo;
  HopgateProcess hopgate(socks_only_config("password"));
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_all(fd, sw::greeting({0, 2})));
  auto method = recv_exact(fd, 2);
  ASSERT_TRUE(method.has_value());
  EXPECT_EQ(*method, bytes_of({5, 2})) << "password listener must choose username/password";
  ASSERT_TRUE(send_all(fd, sw::userpass("alice", "secret")));
  auto status = recv_exact(fd, 2);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, bytes_of({1, 0}));
  ASSERT_TRUE(send_all(fd, sw::request(sw::kConnect, "127.0.0.1", echo.port())));
  Bytes partial;
  auto reply = sw::read_reply5(fd, 10s, &partial);
  ASSERT_TRUE(reply.has_value()) << "got " << to_hex(partial);
  EXPECT_EQ(reply->rep, 0) << to_hex(reply->raw);
  expect_echo(fd, bytes_of("authenticated"));
}

TEST(SocksAuth, PasswordListenerRefusesNoAuthOnlyGreetingWithFF) {
  HopgateProcess hopgate(socks_only_config("password"));
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_all(fd, sw::greeting({0})));
  auto method = recv_exact(fd, 2);
  ASSERT_TRUE(method.has_value()) << "no method selection reply";
  EXPECT_EQ(*method, bytes_of({5, 0xff}));
  Bytes extra;
  EXPECT_TRUE(wait_closed(fd, kCloseWait, &extra)) << "connection left open after 05 FF";
  EXPECT_TRUE(extra.empty()) << to_hex(extra);
}

TEST(SocksAuth, OptionalListenerAcceptsBothWithAndWithoutCredentials) {
  HttpOrigin origin;
  HopgateProcess hopgate(socks_only_config("optional"));
  auto anon = run_curl({"--socks5", socks_addr(hopgate), origin.url("/hello")});
  EXPECT_TRUE(anon.ok()) << anon.describe() << "\n--- hopgate log ---\n" << hopgate.log();
  EXPECT_EQ(anon.out, "hello from origin\n");
  auto authed = run_curl({"--socks5", socks_addr(hopgate), "--proxy-user", "alice:secret", origin.url("/hello")});
  EXPECT_TRUE(authed.ok()) << authed.describe() << "\n--- hopgate log ---\n" << hopgate.log();
  EXPECT_EQ(authed.out, "hello from origin\n");
}

// ------------------------------------------------------------------------------------------------
// Byte-exact replies

class SocksRaw : public ::testing::Test {
protected:
  HopgateProcess hopgate{socks_only_config()};

  /// Greets without authentication (expects 05 00) and sends `request`.
  Fd open_and_request(const Bytes& request) {
    Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
    EXPECT_TRUE(send_all(fd, sw::greeting({0})));
    auto m = recv_exact(fd, 2);
    EXPECT_TRUE(m.has_value() && *m == bytes_of({5, 0})) << "method reply " << (m ? to_hex(*m) : "missing");
    EXPECT_TRUE(send_all(fd, request));
    return fd;
  }

  /// Reads a complete SOCKS5 reply and checks its first bytes are 05 REP 00; then the close.
  void expect_failure_reply_then_close(const Fd& fd, std::uint8_t rep) {
    Bytes partial;
    auto r = sw::read_reply5(fd, 15s, &partial);
    ASSERT_TRUE(r.has_value()) << "no complete SOCKS5 reply; got " << to_hex(partial) << "\n--- hopgate log ---\n"
                               << hopgate.log();
    EXPECT_EQ(r->ver, 5) << to_hex(r->raw);
    EXPECT_EQ(r->rep, rep) << to_hex(r->raw);
    EXPECT_EQ(r->rsv, 0) << to_hex(r->raw);
    Bytes extra;
    EXPECT_TRUE(wait_closed(fd, kCloseWait, &extra)) << "connection left open after a failure reply";
    EXPECT_TRUE(extra.empty()) << to_hex(extra);
  }
};

TEST_F(SocksRaw, ConnectToClosedPortRepliesConnectionRefused) {
  std::uint16_t closed = free_tcp_port();
  Fd fd = open_and_request(sw::request(sw::kConnect, "127.0.0.1", closed));
  Bytes partial;
  auto r = sw::read_reply5(fd, 15s, &partial);
  ASSERT_TRUE(r.has_value()) << "got " << to_hex(partial);
  EXPECT_EQ(bytes_prefix(r->raw, 4), "05 05 00 01") << to_hex(r->raw);
  EXPECT_EQ(r->raw.size(), 10u) << to_hex(r->raw);
  EXPECT_TRUE(wait_closed(fd, kCloseWait));
}

TEST_F(SocksRaw, Socks4ConnectToClosedPortRepliesRejected) {
  std::uint16_t closed = free_tcp_port();
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_all(fd, sw::socks4_request(sw::kConnect, "127.0.0.1", closed, "user")));
  auto r = sw::read_reply4(fd, 15s);
  ASSERT_TRUE(r.has_value()) << "no 8-byte SOCKS4 reply";
  EXPECT_EQ(bytes_prefix(r->raw, 2), "00 5b") << to_hex(r->raw);
  EXPECT_TRUE(wait_closed(fd, kCloseWait));
}

TEST_F(SocksRaw, UnknownCommandRepliesCommandNotSupported) {
  TcpEcho echo;
  Fd fd = open_and_request(sw::request(0x09, "127.0.0.1", echo.port()));
  expect_failure_reply_then_close(fd, 0x07);
  EXPECT_EQ(echo.connections_accepted(), 0u);
}

TEST_F(SocksRaw, UnknownAddressTypeRepliesAddressTypeNotSupported) {
  Fd fd = open_and_request(bytes_of({5, 1, 0, 2, 127, 0, 0, 1, 0, 80}));
  expect_failure_reply_then_close(fd, 0x08);
}

TEST_F(SocksRaw, UnresolvableNameRepliesHostUnreachable) {
  Fd fd = open_and_request(sw::request(sw::kConnect, "nonexistent.invalid", 80));
  expect_failure_reply_then_close(fd, 0x04);
}

TEST_F(SocksRaw, SuccessReplyCarriesTheOutgoingSocketsLocalAddress) {
  TcpEcho echo;
  Fd fd = open_and_request(sw::request(sw::kConnect, "127.0.0.1", echo.port()));
  Bytes partial;
  auto r = sw::read_reply5(fd, 10s, &partial);
  ASSERT_TRUE(r.has_value()) << "got " << to_hex(partial);
  EXPECT_EQ(bytes_prefix(r->raw, 4), "05 00 00 01") << to_hex(r->raw);
  EXPECT_EQ(r->address, "127.0.0.1");
  EXPECT_NE(r->port, 0);
  expect_echo(fd, bytes_of("where am I"));
  // The echo server saw hopgate's outgoing socket: its address is the one in the reply.
  auto peers = echo.peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].address().to_string(), r->address);
  EXPECT_EQ(peers[0].port(), r->port);
}

// ------------------------------------------------------------------------------------------------
// Fragmented and pipelined handshakes

TEST_F(SocksRaw, Socks5HandshakeOneBytePerWrite) {
  TcpEcho echo;
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_byte_by_byte(fd, sw::greeting({0})));
  auto m = recv_exact(fd, 2);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, bytes_of({5, 0}));
  ASSERT_TRUE(send_byte_by_byte(fd, sw::request(sw::kConnect, "127.0.0.1", echo.port())));
  Bytes partial;
  auto r = sw::read_reply5(fd, 10s, &partial);
  ASSERT_TRUE(r.has_value()) << "got " << to_hex(partial);
  EXPECT_EQ(r->rep, 0) << to_hex(r->raw);
  expect_echo(fd, bytes_of("fragmented socks5"));
}

TEST_F(SocksRaw, Socks5DomainRequestOneBytePerWrite) {
  TcpEcho echo;
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_byte_by_byte(fd, sw::greeting({0})));
  auto m = recv_exact(fd, 2);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, bytes_of({5, 0}));
  ASSERT_TRUE(send_byte_by_byte(fd, sw::request(sw::kConnect, "localhost", echo.port())));
  Bytes partial;
  auto r = sw::read_reply5(fd, 10s, &partial);
  ASSERT_TRUE(r.has_value()) << "got " << to_hex(partial);
  EXPECT_EQ(r->rep, 0) << to_hex(r->raw);
  expect_echo(fd, bytes_of("fragmented socks5 by name"));
}

TEST_F(SocksRaw, Socks4aRequestOneBytePerWrite) {
  TcpEcho echo;
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_byte_by_byte(fd, sw::socks4a_request(sw::kConnect, "localhost", echo.port(), "someone")));
  auto r = sw::read_reply4(fd, 10s);
  ASSERT_TRUE(r.has_value()) << "no 8-byte SOCKS4 reply";
  EXPECT_EQ(r->vn, 0) << to_hex(r->raw);
  EXPECT_EQ(r->cd, 0x5a) << to_hex(r->raw);
  expect_echo(fd, bytes_of("fragmented socks4a"));
}

TEST_F(SocksRaw, DataPipelinedBehindConnectRequestReachesTarget) {
  TcpEcho echo;
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_all(fd, sw::greeting({0})));
  auto m = recv_exact(fd, 2);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, bytes_of({5, 0}));
  Bytes payload = deterministic_bytes(11, 3000);
  Bytes out = sw::request(sw::kConnect, "127.0.0.1", echo.port());
  append(out, payload);
  ASSERT_TRUE(send_all(fd, out)); // request and data in one write, before reading the reply
  Bytes partial;
  auto r = sw::read_reply5(fd, 10s, &partial);
  ASSERT_TRUE(r.has_value()) << "got " << to_hex(partial);
  EXPECT_EQ(r->rep, 0) << to_hex(r->raw);
  auto back = recv_exact(fd, payload.size(), 10s);
  ASSERT_TRUE(back.has_value()) << "pipelined data did not come back (lost before the tunnel opened?)";
  EXPECT_TRUE(*back == payload);
}

TEST_F(SocksRaw, GreetingRequestAndDataAllInOneWrite) {
  TcpEcho echo;
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  Bytes payload = deterministic_bytes(12, 3000);
  Bytes out = sw::greeting({0});
  append(out, sw::request(sw::kConnect, "127.0.0.1", echo.port()));
  append(out, payload);
  ASSERT_TRUE(send_all(fd, out));
  auto m = recv_exact(fd, 2);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, bytes_of({5, 0}));
  Bytes partial;
  auto r = sw::read_reply5(fd, 10s, &partial);
  ASSERT_TRUE(r.has_value()) << "got " << to_hex(partial);
  EXPECT_EQ(r->rep, 0) << to_hex(r->raw);
  auto back = recv_exact(fd, payload.size(), 10s);
  ASSERT_TRUE(back.has_value()) << "pipelined data did not come back";
  EXPECT_TRUE(*back == payload);
}

TEST_F(SocksRaw, Socks4aDataPipelinedBehindRequestReachesTarget) {
  TcpEcho echo;
  Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
  Bytes payload = deterministic_bytes(13, 2000);
  Bytes out = sw::socks4a_request(sw::kConnect, "localhost", echo.port());
  append(out, payload);
  ASSERT_TRUE(send_all(fd, out));
  auto r = sw::read_reply4(fd, 10s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(bytes_prefix(r->raw, 2), "00 5a") << to_hex(r->raw);
  auto back = recv_exact(fd, payload.size(), 10s);
  ASSERT_TRUE(back.has_value()) << "pipelined data did not come back";
  EXPECT_TRUE(*back == payload);
}

// ------------------------------------------------------------------------------------------------
// Garbage on the SOCKS port

TEST_F(SocksRaw, GarbageGreetingsAreClosedAndServiceContinues) {
  HttpOrigin origin;
  struct Garbage {
    std::string name;
    Bytes bytes;
    std::optional<Bytes> reply; ///< exact bytes expected before the close, when any
  };
  Bytes random = deterministic_bytes(99, 64);
  random[0] = 0x17; // neither SOCKS4 nor SOCKS5
  std::vector<Garbage> cases = {
      {"random bytes", random, std::nullopt},
      {"HTTP request on a SOCKS-only port", bytes_of("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), std::nullopt},
      {"05 00 (no methods)", bytes_of({5, 0}), bytes_of({5, 0xff})},
      {"05 01 80 (only a private method)", bytes_of({5, 1, 0x80}), bytes_of({5, 0xff})},
      {"05 02 03 fe (no acceptable method)", bytes_of({5, 2, 3, 0xfe}), bytes_of({5, 0xff})},
  };
  for (auto& g : cases) {
    SCOPED_TRACE(g.name);
    Fd fd = connect_tcp("127.0.0.1", hopgate.port("socks"));
    ASSERT_TRUE(send_all(fd, g.bytes));
    Bytes got;
    EXPECT_TRUE(wait_closed(fd, kCloseWait, &got)) << "hopgate kept the connection open; sent back " << to_hex(got);
    if (g.reply) {
      EXPECT_EQ(to_hex(got), to_hex(*g.reply));
    } else {
      // Nothing, or the SOCKS5 "no acceptable method" reply (hopgate answers any unknown greeting
      // with 05 FF, as SOCKS5 servers commonly do); never anything that looks like progress.
      EXPECT_TRUE(got.empty() || got == bytes_of({5, 0xff})) << "unexpected reply to non-SOCKS bytes: " << to_hex(got);
    }
  }
  ASSERT_TRUE(hopgate.running()) << hopgate.log();
  auto r = run_curl({"--socks5", socks_addr(hopgate), origin.url("/hello")});
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n");
}

// ------------------------------------------------------------------------------------------------
// Half-close

TEST_F(SocksRaw, HalfCloseDeliversEchoThenCloses) {
  TcpEcho echo;
  Fd fd = sw::connect5(hopgate.port("socks"), "127.0.0.1", echo.port());
  Bytes payload = deterministic_bytes(21, 200 * 1024);
  ASSERT_TRUE(send_all(fd, payload));
  shutdown_write(fd);
  auto r = recv_until_close(fd, 30s);
  EXPECT_TRUE(r.closed) << "tunnel not closed after the target closed; got " << r.data.size() << " bytes";
  EXPECT_FALSE(r.reset) << "closed with a reset instead of an orderly close";
  EXPECT_EQ(r.data.size(), payload.size());
  EXPECT_TRUE(r.data == payload) << "echoed bytes differ";
}

TEST_F(SocksRaw, TargetClosingAfterItsResponseReachesClientCompletely) {
  // The origin answers (HTTP/1.0 style with Connection: close) and closes its write side; the client
  // reads the whole response and sees the close.
  HttpOrigin origin;
  Fd fd = sw::connect5(hopgate.port("socks"), "127.0.0.1", origin.port());
  ASSERT_TRUE(send_all(fd, std::string_view("GET /bytes/100000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
  auto r = recv_until_close(fd, 30s);
  EXPECT_TRUE(r.closed);
  std::string text(r.data.begin(), r.data.end());
  auto body_at = text.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos) << text.substr(0, 200);
  EXPECT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(sha256_hex(std::string_view(text).substr(body_at + 4)), deterministic_sha256(kOriginBytesSeed, 100000));
}
