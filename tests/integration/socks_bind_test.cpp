// SOCKS BIND (SOCKS5 command 2, SOCKS4 CD 2) against the real binary, with raw sockets: the test
// plays both the client and the "server-side peer" that connects to the port hopgate (or the
// upstream hop) listens on. Direct routes, the expected-peer check, the bind timeout, and BIND
// forwarded to Dante as a SOCKS5 or SOCKS4 last hop.
#include "socks_test_common.hpp"
#include "support/net.hpp"
#include "support/peers.hpp"
#include "support/socks_wire.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace hopgate::test;
namespace sw = hopgate::test::socks;

namespace {

/// SOCKS5 greeting without authentication; returns the connection ready for a request.
Fd socks5_open(std::uint16_t proxy_port) {
  Fd fd = connect_tcp("127.0.0.1", proxy_port);
  EXPECT_TRUE(send_all(fd, sw::greeting({0})));
  auto m = recv_exact(fd, 2);
  EXPECT_TRUE(m.has_value());
  if (m) {
    EXPECT_EQ(to_hex(*m), "05 00");
  }
  return fd;
}

/// A TCP connection to ip:port from `source_ip` (e.g. 127.0.0.2, to be a stranger on loopback).
Fd connect_from(const std::string& source_ip, const std::string& ip, std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
    throw std::runtime_error("bind " + source_ip + ": " + std::strerror(errno));
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &dst.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0)
    throw std::runtime_error("connect " + ip + ":" + std::to_string(port) + ": " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::uint16_t local_port(const Fd& fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

/// Data both ways, then the client's half-close reaches the peer.
void expect_relay(const Fd& client, const Fd& peer) {
  ASSERT_TRUE(send_all(client, std::string_view("hello peer")));
  auto got = recv_exact(peer, 10);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(std::string(got->begin(), got->end()), "hello peer");
  ASSERT_TRUE(send_all(peer, std::string_view("hello client")));
  got = recv_exact(client, 12);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(std::string(got->begin(), got->end()), "hello client");
  shutdown_write(client);
  auto rest = recv_until_close(peer, 10s);
  EXPECT_TRUE(rest.closed);
  EXPECT_TRUE(rest.data.empty());
}

nlohmann::json with_bind_timeout(double seconds) {
  auto cfg = socks_only_config();
  cfg["timeouts"]["bind"] = seconds;
  return cfg;
}

nlohmann::json via_upstream(const std::string& url) {
  auto cfg = socks_only_config();
  cfg["upstreams"] = {{"hop", url}};
  cfg["default"]["via"] = "hop";
  return cfg;
}

/// SOCKS5 BIND through `hopgate` for expected peer 127.0.0.1: both replies, relay.
void socks5_bind_round_trip(HopgateProcess& hopgate) {
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "127.0.0.1", 0)));
  Bytes partial;
  auto first = sw::read_reply5(client, 15s, &partial);
  ASSERT_TRUE(first.has_value()) << "no first reply; got " << to_hex(partial) << "\n" << hopgate.log();
  ASSERT_EQ(first->rep, 0) << to_hex(first->raw) << "\n" << hopgate.log();
  EXPECT_EQ(first->atyp, sw::kAtypIpv4);
  EXPECT_EQ(first->address, "127.0.0.1");
  ASSERT_NE(first->port, 0);

  Fd peer = connect_tcp("127.0.0.1", first->port);
  auto second = sw::read_reply5(client, 15s, &partial);
  ASSERT_TRUE(second.has_value()) << "no second reply; got " << to_hex(partial) << "\n" << hopgate.log();
  ASSERT_EQ(second->rep, 0) << to_hex(second->raw);
  EXPECT_EQ(second->address, "127.0.0.1");
  EXPECT_EQ(second->port, local_port(peer));
  expect_relay(client, peer);
}

/// SOCKS4 BIND through `hopgate` for expected peer 127.0.0.1: both replies, relay.
void socks4_bind_round_trip(HopgateProcess& hopgate) {
  Fd client = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::socks4_request(sw::kBind, "127.0.0.1", 21, "tester")));
  auto first = sw::read_reply4(client, 15s);
  ASSERT_TRUE(first.has_value()) << hopgate.log();
  ASSERT_EQ(first->cd, 0x5A) << to_hex(first->raw) << "\n" << hopgate.log();
  EXPECT_EQ(first->vn, 0);
  EXPECT_EQ(first->address, "127.0.0.1");
  ASSERT_NE(first->port, 0);

  Fd peer = connect_tcp("127.0.0.1", first->port);
  auto second = sw::read_reply4(client, 15s);
  ASSERT_TRUE(second.has_value()) << hopgate.log();
  ASSERT_EQ(second->cd, 0x5A) << to_hex(second->raw);
  EXPECT_EQ(second->address, "127.0.0.1");
  EXPECT_EQ(second->port, local_port(peer));
  expect_relay(client, peer);
}

} // namespace

TEST(SocksBind, Socks5DirectTwoRepliesThenRelay) {
  HopgateProcess hopgate(socks_only_config());
  socks5_bind_round_trip(hopgate);
}

TEST(SocksBind, Socks4DirectTwoRepliesThenRelay) {
  HopgateProcess hopgate(socks_only_config());
  socks4_bind_round_trip(hopgate);
}

TEST(SocksBind, PipelinedClientBytesReachThePeerFirst) {
  HopgateProcess hopgate(socks_only_config());
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "0.0.0.0", 0)));
  auto first = sw::read_reply5(client, 15s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->rep, 0);
  // Sent before the peer exists: kept and delivered once it connects.
  ASSERT_TRUE(send_all(client, std::string_view("early")));
  std::this_thread::sleep_for(200ms);
  Fd peer = connect_tcp("127.0.0.1", first->port);
  auto second = sw::read_reply5(client, 15s);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->rep, 0);
  auto got = recv_exact(peer, 5);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(std::string(got->begin(), got->end()), "early");
}

TEST(SocksBind, OnlyTheExpectedPeerIsAccepted) {
  HopgateProcess hopgate(socks_only_config());
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "127.0.0.1", 0)));
  auto first = sw::read_reply5(client, 15s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->rep, 0);

  // A stranger (127.0.0.2) finds the port first: turned away, and the client hears nothing.
  Fd stranger = connect_from("127.0.0.2", "127.0.0.1", first->port);
  EXPECT_TRUE(wait_closed(stranger, 10s)) << "a connection from an unexpected address was kept";
  Bytes partial;
  EXPECT_FALSE(sw::read_reply5(client, 500ms, &partial).has_value()) << "second reply for a stranger: " << to_hex(partial);
  EXPECT_TRUE(partial.empty());

  // The expected peer still gets through.
  Fd peer = connect_from("127.0.0.1", "127.0.0.1", first->port);
  auto second = sw::read_reply5(client, 15s);
  ASSERT_TRUE(second.has_value()) << hopgate.log();
  EXPECT_EQ(second->rep, 0);
  EXPECT_EQ(second->address, "127.0.0.1");
  EXPECT_EQ(second->port, local_port(peer));
  expect_relay(client, peer);
}

TEST(SocksBind, UnspecifiedAddressAcceptsAnyPeer) {
  HopgateProcess hopgate(socks_only_config());
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "0.0.0.0", 0)));
  auto first = sw::read_reply5(client, 15s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->rep, 0);
  Fd peer = connect_from("127.0.0.2", "127.0.0.1", first->port);
  auto second = sw::read_reply5(client, 15s);
  ASSERT_TRUE(second.has_value()) << hopgate.log();
  EXPECT_EQ(second->rep, 0);
  EXPECT_EQ(second->address, "127.0.0.2");
  expect_relay(client, peer);
}

TEST(SocksBind, DomainPeerAcceptsItsAddresses) {
  HopgateProcess hopgate(socks_only_config());
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "localhost", 0)));
  auto first = sw::read_reply5(client, 15s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->rep, 0);
  Fd stranger = connect_from("127.0.0.2", "127.0.0.1", first->port);
  EXPECT_TRUE(wait_closed(stranger, 10s)) << "localhost is 127.0.0.1, not 127.0.0.2";
  Fd peer = connect_from("127.0.0.1", "127.0.0.1", first->port);
  auto second = sw::read_reply5(client, 15s);
  ASSERT_TRUE(second.has_value()) << hopgate.log();
  EXPECT_EQ(second->rep, 0);
  EXPECT_EQ(second->port, local_port(peer));
}

TEST(SocksBind, OnionPeerOnDirectRouteFailsClosed) {
  HopgateProcess hopgate(socks_only_config());
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "hidden.onion", 0)));
  auto r = sw::read_reply5(client, 15s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rep, 0x04) << "a direct BIND must not resolve an .onion name locally";
  EXPECT_TRUE(wait_closed(client, 10s));
}

TEST(SocksBind, Socks5TimeoutRepliesTtlExpired) {
  HopgateProcess hopgate(with_bind_timeout(1));
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "127.0.0.1", 0)));
  auto first = sw::read_reply5(client, 15s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->rep, 0);
  auto started = std::chrono::steady_clock::now();
  auto second = sw::read_reply5(client, 15s);
  ASSERT_TRUE(second.has_value()) << hopgate.log();
  EXPECT_EQ(second->rep, 0x06) << to_hex(second->raw);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 700ms);
  EXPECT_TRUE(wait_closed(client, 10s));
  // The port is given up with the request.
  EXPECT_FALSE(try_connect_tcp("127.0.0.1", first->port, 2s).valid());
}

TEST(SocksBind, Socks4TimeoutRepliesRejected) {
  HopgateProcess hopgate(with_bind_timeout(1));
  Fd client = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::socks4_request(sw::kBind, "127.0.0.1", 21)));
  auto first = sw::read_reply4(client, 15s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->cd, 0x5A);
  auto second = sw::read_reply4(client, 15s);
  ASSERT_TRUE(second.has_value()) << hopgate.log();
  EXPECT_EQ(second->cd, 0x5B) << to_hex(second->raw);
  EXPECT_TRUE(wait_closed(client, 10s));
}

TEST(SocksBind, ClientLeavingReleasesThePort) {
  HopgateProcess hopgate(socks_only_config());
  std::uint16_t port = 0;
  {
    Fd client = socks5_open(hopgate.port("socks"));
    ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "127.0.0.1", 0)));
    auto first = sw::read_reply5(client, 15s);
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(first->rep, 0);
    port = first->port;
  }
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {
    closed = !try_connect_tcp("127.0.0.1", port, 1s).valid();
    if (!closed) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(closed) << "the BIND port stayed open after the client left";
}

TEST(SocksBind, BlockedRouteRepliesNotAllowed) {
  auto cfg = socks_only_config();
  cfg["default"]["via"] = "block";
  HopgateProcess hopgate(cfg);
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "127.0.0.1", 0)));
  auto r = sw::read_reply5(client, 15s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rep, 0x02);
  EXPECT_TRUE(wait_closed(client, 10s));
}

TEST(SocksBind, HttpLastHopRepliesCommandNotSupported) {
  // Never dialled: an HTTP proxy cannot listen for us, so the request is refused up front.
  HopgateProcess hopgate(via_upstream("http://127.0.0.1:9"));
  Fd client = socks5_open(hopgate.port("socks"));
  ASSERT_TRUE(send_all(client, sw::request(sw::kBind, "127.0.0.1", 0)));
  auto r = sw::read_reply5(client, 15s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->rep, 0x07);
  EXPECT_TRUE(wait_closed(client, 10s));

  Fd client4 = connect_tcp("127.0.0.1", hopgate.port("socks"));
  ASSERT_TRUE(send_all(client4, sw::socks4_request(sw::kBind, "127.0.0.1", 21)));
  auto r4 = sw::read_reply4(client4, 15s);
  ASSERT_TRUE(r4.has_value());
  EXPECT_EQ(r4->cd, 0x5B);
}

TEST(SocksBindUpstream, Socks5ClientThroughDanteSocks5) {
  Dante dante;
  HopgateProcess hopgate(via_upstream("socks5://" + dante.address()));
  socks5_bind_round_trip(hopgate);
}

TEST(SocksBindUpstream, Socks4ClientThroughDanteSocks5) {
  Dante dante;
  HopgateProcess hopgate(via_upstream("socks5://" + dante.address()));
  socks4_bind_round_trip(hopgate);
}

TEST(SocksBindUpstream, Socks5ClientThroughDanteSocks4) {
  Dante dante;
  HopgateProcess hopgate(via_upstream("socks4://" + dante.address()));
  socks5_bind_round_trip(hopgate);
}
