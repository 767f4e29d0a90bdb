// SOCKS5 UDP ASSOCIATE (RFC 1928 section 7) against the real binary, with raw sockets on
// loopback: round trips to a UDP echo by IPv4, IPv6 and name, direct and through Dante as the
// upstream SOCKS5 hop; the client-address filter, FRAG, limits, the end of an association with
// its TCP connection or its idle timeout; and a DNS query to a responder of the test's own.
#include "socks_test_common.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/peers.hpp"
#include "support/process.hpp"
#include "support/socks_wire.hpp"
#include "support/tempdir.hpp"
#include "support/tools.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace hopgate::test;
namespace sw = hopgate::test::socks;

namespace {

// ---- UDP sockets ---------------------------------------------------------------------------

sockaddr_storage make_addr(const std::string& ip, std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (ip.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) != 1) throw std::runtime_error("bad IPv6 " + ip);
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (::inet_pton(AF_INET, ip.c_str(), &a->sin_addr) != 1) throw std::runtime_error("bad IPv4 " + ip);
    len = sizeof(sockaddr_in);
  }
  return ss;
}

std::pair<std::string, std::uint16_t> split_addr(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    return {text, ntohs(a->sin_port)};
  }
  auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
  return {text, ntohs(a->sin6_port)};
}

/// A UDP socket bound to ip:port (port 0: any).
Fd udp_bound(const std::string& ip, std::uint16_t port = 0) {
  socklen_t len = 0;
  auto ss = make_addr(ip, port, len);
  Fd fd(::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw std::runtime_error("bind " + ip + ": " + std::strerror(errno));
  return fd;
}

std::uint16_t udp_port(const Fd& fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  return split_addr(ss).second;
}

void udp_send(const Fd& fd, const std::string& ip, std::uint16_t port, std::span<const std::uint8_t> data) {
  socklen_t len = 0;
  auto ss = make_addr(ip, port, len);
  auto n = ::sendto(fd.get(), data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  if (n != static_cast<ssize_t>(data.size())) throw std::runtime_error(std::string("sendto: ") + std::strerror(errno));
}

struct Received {
  Bytes data;
  std::string from_ip;
  std::uint16_t from_port = 0;
};

/// One datagram within the timeout; *error gets errno when recv fails (ECONNREFUSED on a connected socket).
std::optional<Received> udp_recv(const Fd& fd, std::chrono::milliseconds timeout, int* error = nullptr) {
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  Received r;
  r.data.resize(70000);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto n = ::recvfrom(fd.get(), r.data.data(), r.data.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) {
    if (error) *error = errno;
    return std::nullopt;
  }
  r.data.resize(static_cast<std::size_t>(n));
  std::tie(r.from_ip, r.from_port) = split_addr(ss);
  return r;
}

// ---- the SOCKS5 UDP header --------------------------------------------------------------------

/// RSV RSV FRAG ATYP DST.ADDR DST.PORT DATA; ATYP chosen like sw::request (IPv4, IPv6 or name).
Bytes wrap(const std::string& host, std::uint16_t port, std::span<const std::uint8_t> payload, std::uint8_t frag = 0) {
  auto req = sw::request(sw::kConnect, host, port); // 05 01 00 ATYP ADDR PORT: reuse its address part
  Bytes out{0, 0, frag};
  out.insert(out.end(), req.begin() + 3, req.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

struct Datagram {
  std::uint8_t frag = 0, atyp = 0;
  std::string host;
  std::uint16_t port = 0;
  Bytes payload;
};

std::optional<Datagram> unwrap(const Bytes& in) {
  if (in.size() < 4 || in[0] != 0 || in[1] != 0) return std::nullopt;
  Datagram d;
  d.frag = in[2];
  d.atyp = in[3];
  std::size_t pos = 4;
  char text[INET6_ADDRSTRLEN] = {};
  if (d.atyp == sw::kAtypIpv4) {
    if (in.size() < pos + 6) return std::nullopt;
    ::inet_ntop(AF_INET, in.data() + pos, text, sizeof text);
    d.host = text;
    pos += 4;
  } else if (d.atyp == sw::kAtypIpv6) {
    if (in.size() < pos + 18) return std::nullopt;
    ::inet_ntop(AF_INET6, in.data() + pos, text, sizeof text);
    d.host = text;
    pos += 16;
  } else if (d.atyp == sw::kAtypDomain) {
    if (in.size() < pos + 1 || in.size() < pos + 1 + in[pos] + 2) return std::nullopt;
    d.host.assign(in.begin() + static_cast<std::ptrdiff_t>(pos) + 1, in.begin() + static_cast<std::ptrdiff_t>(pos) + 1 + in[pos]);
    pos += 1 + in[pos];
  } else {
    return std::nullopt;
  }
  d.port = static_cast<std::uint16_t>(in[pos] << 8 | in[pos + 1]);
  pos += 2;
  d.payload.assign(in.begin() + static_cast<std::ptrdiff_t>(pos), in.end());
  return d;
}

// ---- associations ------------------------------------------------------------------------------

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

struct Assoc {
  Fd control;
  sw::Reply5 reply;
  std::string relay_ip() const { return reply.address; }
  std::uint16_t relay_port() const { return reply.port; }
};

/// UDP ASSOCIATE on hopgate; the reply is returned whatever its code (check reply.rep).
Assoc associate(const HopgateProcess& hopgate, const std::string& host = "0.0.0.0", std::uint16_t port = 0) {
  Assoc a{socks5_open(hopgate.port("socks")), {}};
  EXPECT_TRUE(send_all(a.control, sw::request(sw::kUdpAssociate, host, port)));
  Bytes partial;
  auto r = sw::read_reply5(a.control, 15s, &partial);
  if (!r) throw std::runtime_error("no UDP ASSOCIATE reply; got " + to_hex(partial));
  a.reply = *r;
  return a;
}

/// Sends `payload` to host:port through the association and waits for one datagram back.
std::optional<Datagram> round_trip(const Fd& udp, const Assoc& a, const std::string& host, std::uint16_t port,
                                   std::string_view payload, std::chrono::milliseconds timeout = 5s) {
  auto bytes = bytes_of(payload);
  udp_send(udp, a.relay_ip(), a.relay_port(), wrap(host, port, bytes));
  auto r = udp_recv(udp, timeout);
  if (!r) return std::nullopt;
  EXPECT_EQ(r->from_ip, a.relay_ip());
  EXPECT_EQ(r->from_port, a.relay_port());
  return unwrap(r->data);
}

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

/// A round trip that must come back from host:port (as the header names it) with the payload.
void expect_echo(const Fd& udp, const Assoc& a, const std::string& host, std::uint16_t port, const std::string& reply_host,
                 const HopgateProcess& hopgate, std::string_view payload = "ping") {
  auto d = round_trip(udp, a, host, port, payload);
  ASSERT_TRUE(d.has_value()) << "no reply through the association to " << host << ":" << port << "\n--- hopgate log ---\n"
                             << hopgate.log();
  EXPECT_EQ(d->frag, 0);
  EXPECT_EQ(d->host, reply_host);
  EXPECT_EQ(d->port, port);
  EXPECT_EQ(text(d->payload), payload);
}

// ---- a DNS responder -------------------------------------------------------------------------

/// Answers every query with one A record 127.0.0.1 (copying the question), on 127.0.0.1:port.
class TinyDns {
public:
  TinyDns() : fd_(udp_bound("127.0.0.1")), port_(udp_port(fd_)) {
    thread_ = std::thread([this] { run(); });
  }
  ~TinyDns() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  int queries() const { return queries_.load(); }

private:
  void run() {
    while (!stop_) {
      auto q = udp_recv(fd_, 100ms);
      if (!q || q->data.size() < 12) continue;
      ++queries_;
      const Bytes& in = q->data;
      // Header: ID, flags (QR, RD copied, RA), QDCOUNT 1, ANCOUNT 1; the question as asked.
      std::size_t end = 12;
      while (end < in.size() && in[end] != 0) end += 1 + in[end];
      end += 1 + 4; // root label, QTYPE, QCLASS
      if (end > in.size()) continue;
      Bytes out{in[0], in[1], static_cast<std::uint8_t>(0x80 | (in[2] & 0x01)), 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
      out.insert(out.end(), in.begin() + 12, in.begin() + static_cast<std::ptrdiff_t>(end));
      Bytes answer{0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
      out.insert(out.end(), answer.begin(), answer.end());
      udp_send(fd_, q->from_ip, q->from_port, out);
    }
  }
  Fd fd_;
  std::uint16_t port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

Bytes dns_query(std::uint16_t id, const std::string& name) {
  Bytes q{static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start <= name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<std::uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<std::ptrdiff_t>(start), name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  Bytes tail{0, 1, 0, 1}; // A, IN
  q.insert(q.end(), tail.begin(), tail.end());
  return q;
}

void expect_dns_answer(const Fd& udp, const Assoc& a, const TinyDns& dns, const HopgateProcess& hopgate) {
  auto query = dns_query(0x4242, "hopgate.test");
  udp_send(udp, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", dns.port(), query));
  auto r = udp_recv(udp, 5s);
  ASSERT_TRUE(r.has_value()) << "no DNS answer\n--- hopgate log ---\n" << hopgate.log();
  auto d = unwrap(r->data);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->host, "127.0.0.1");
  EXPECT_EQ(d->port, dns.port());
  const Bytes& ans = d->payload;
  ASSERT_GE(ans.size(), query.size() + 16);
  EXPECT_EQ(ans[0], 0x42);
  EXPECT_EQ(ans[1], 0x42);
  EXPECT_TRUE(ans[2] & 0x80) << "not a response";
  EXPECT_EQ(ans[7], 1) << "ANCOUNT";
  EXPECT_EQ(to_hex(std::span(ans).subspan(ans.size() - 4)), "7f 00 00 01");
}

// ---- Dante with IPv4 and IPv6 on its external side ---------------------------------------

/// Like support's Dante, but `external: lo` so that it reaches [::1] as well as 127.0.0.1.
class DanteLoopback {
public:
  DanteLoopback() {
    std::string bin = require_tool(std::vector<std::string>{"danted", "sockd"}, "dante-server");
    std::string last;
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_tcp_port();
      std::string conf = "logoutput: stderr\n"
                         "internal: 127.0.0.1 port = " + std::to_string(port_) + "\n"
                         "external: lo\n"
                         "clientmethod: none\n"
                         "socksmethod: none\n"
                         "client pass { from: 0/0 to: 0/0 }\n"
                         "socks pass { from: 0/0 to: 0/0 }\n";
      auto file = dir_.write_file("danted.conf", conf);
      proc_ = std::make_unique<ChildProcess>(std::vector<std::string>{bin, "-f", file.string(), "-N", "1"});
      if (wait_port_open("127.0.0.1", port_, 10s)) return;
      last = proc_->output();
      proc_->stop(SIGTERM, 2s);
    }
    throw std::runtime_error("dante (external: lo) did not start\n" + last);
  }
  ~DanteLoopback() {
    if (proc_) proc_->stop(SIGTERM, 5s);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return proc_ ? proc_->output() : std::string(); }

private:
  TempDir dir_{"hopgate-dante-lo"};
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

nlohmann::json via_upstream(const std::string& url) {
  auto cfg = socks_only_config();
  cfg["upstreams"] = {{"hop", url}};
  cfg["default"]["via"] = "hop";
  return cfg;
}

} // namespace

// ---- direct ------------------------------------------------------------------------------------

TEST(SocksUdpDirect, Ipv4RoundTrips) {
  UdpEcho echo;
  HopgateProcess hopgate(socks_only_config());
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0) << to_hex(a.reply.raw);
  EXPECT_EQ(a.reply.atyp, sw::kAtypIpv4);
  EXPECT_EQ(a.relay_ip(), "127.0.0.1") << "the relay must listen where the client reached hopgate";
  ASSERT_NE(a.relay_port(), 0);
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate, "first");
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate, "second");
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate, std::string(8000, 'x'));
  EXPECT_EQ(echo.datagrams(), 3u);
}

TEST(SocksUdpDirect, Ipv6RoundTrip) {
  UdpEcho echo(ListenOptions{true, true});
  HopgateProcess hopgate(socks_only_config());
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  expect_echo(udp, a, "::1", echo.port_v6(), "::1", hopgate);
  // Both families in one association.
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate);
}

TEST(SocksUdpDirect, DomainRoundTrip) {
  UdpEcho echo;
  HopgateProcess hopgate(socks_only_config());
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  // Replies name the address the answer came from, not the name asked for.
  expect_echo(udp, a, "localhost", echo.port_v4(), "127.0.0.1", hopgate, "by name");
  expect_echo(udp, a, "localhost", echo.port_v4(), "127.0.0.1", hopgate, "cached");
}

TEST(SocksUdpDirect, DnsQueryIsAnswered) {
  TinyDns dns;
  HopgateProcess hopgate(socks_only_config());
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  expect_dns_answer(udp, a, dns, hopgate);
  EXPECT_EQ(dns.queries(), 1);
}

TEST(SocksUdpDirect, ForeignSourcesAreDropped) {
  UdpEcho echo;
  HopgateProcess hopgate(socks_only_config());
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  // Another address, before the client has sent anything: not the client's IP.
  Fd stranger_ip = udp_bound("127.0.0.2");
  udp_send(stranger_ip, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", echo.port_v4(), bytes_of("intruder")));
  EXPECT_FALSE(udp_recv(stranger_ip, 700ms).has_value());
  // The client's first datagram fixes its port...
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate);
  // ...so the same IP from another port is a stranger too.
  Fd stranger_port = udp_bound("127.0.0.1");
  udp_send(stranger_port, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", echo.port_v4(), bytes_of("intruder")));
  EXPECT_FALSE(udp_recv(stranger_port, 700ms).has_value());
  EXPECT_FALSE(udp_recv(udp, 100ms).has_value());
  EXPECT_EQ(echo.datagrams(), 1u);
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate, "still mine");
}

TEST(SocksUdpDirect, RequestedPortIsTheOnlyOneAccepted) {
  UdpEcho echo;
  HopgateProcess hopgate(socks_only_config());
  Fd udp = udp_bound("127.0.0.1");
  Fd other = udp_bound("127.0.0.1");
  auto a = associate(hopgate, "127.0.0.1", udp_port(udp));
  ASSERT_EQ(a.reply.rep, 0);
  udp_send(other, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", echo.port_v4(), bytes_of("wrong port")));
  EXPECT_FALSE(udp_recv(other, 700ms).has_value());
  EXPECT_EQ(echo.datagrams(), 0u);
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate);
}

TEST(SocksUdpDirect, FragmentsAreDropped) {
  UdpEcho echo;
  HopgateProcess hopgate(socks_only_config());
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  udp_send(udp, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", echo.port_v4(), bytes_of("fragment"), 1));
  EXPECT_FALSE(udp_recv(udp, 700ms).has_value());
  EXPECT_EQ(echo.datagrams(), 0u);
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate);
}

TEST(SocksUdpDirect, AssociationEndsWithItsTcpConnection) {
  UdpEcho echo;
  HopgateProcess hopgate(socks_only_config());
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate);
  a.control.reset();
  // The relay port closes: a connected socket sees ICMP port unreachable (ECONNREFUSED).
  socklen_t len = 0;
  auto relay = make_addr(a.relay_ip(), a.relay_port(), len);
  ASSERT_EQ(::connect(udp.get(), reinterpret_cast<sockaddr*>(&relay), len), 0);
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {
    auto d = wrap("127.0.0.1", echo.port_v4(), bytes_of("after close"));
    ::send(udp.get(), d.data(), d.size(), 0);
    int err = 0;
    auto r = udp_recv(udp, 100ms, &err);
    EXPECT_FALSE(r.has_value()) << "a reply after the association ended";
    refused = err == ECONNREFUSED;
  }
  EXPECT_TRUE(refused) << "the relay port stayed open after the TCP connection closed\n" << hopgate.log();
  EXPECT_EQ(echo.datagrams(), 1u);
}

TEST(SocksUdpDirect, IdleAssociationEnds) {
  auto cfg = socks_only_config();
  cfg["udp"] = {{"idle_timeout", 1}};
  HopgateProcess hopgate(cfg);
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_closed(a.control, 10s)) << "the control connection outlived the idle timeout";
  EXPECT_GE(std::chrono::steady_clock::now() - started, 700ms);
}

TEST(SocksUdpDirect, PortRangeIsUsed) {
  auto cfg = socks_only_config();
  cfg["udp"] = {{"port_range", "47310-47319"}};
  HopgateProcess hopgate(cfg);
  UdpEcho echo;
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  EXPECT_GE(a.relay_port(), 47310);
  EXPECT_LE(a.relay_port(), 47319);
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate);
}

TEST(SocksUdpDirect, PerClientLimit) {
  auto cfg = socks_only_config();
  cfg["udp"] = {{"max_associations_per_client", 1}};
  HopgateProcess hopgate(cfg);
  {
    auto first = associate(hopgate);
    ASSERT_EQ(first.reply.rep, 0);
    auto second = associate(hopgate);
    EXPECT_NE(second.reply.rep, 0) << "a second association over the per-client limit";
    EXPECT_TRUE(wait_closed(second.control, 10s));
  }
  // The slot comes back when the first association ends.
  bool granted = false;
  for (int i = 0; i < 50 && !granted; ++i) {
    auto again = associate(hopgate);
    granted = again.reply.rep == 0;
    if (!granted) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(granted);
}

TEST(SocksUdpDirect, OversizedDatagramsAreDropped) {
  auto cfg = socks_only_config();
  cfg["udp"] = {{"max_datagram", 512}};
  HopgateProcess hopgate(cfg);
  UdpEcho echo;
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  udp_send(udp, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", echo.port_v4(), bytes_of(std::string(513, 'b'))));
  EXPECT_FALSE(udp_recv(udp, 700ms).has_value());
  EXPECT_EQ(echo.datagrams(), 0u);
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate, std::string(512, 'a'));
}

TEST(SocksUdpRoutes, NoRouteCarriesUdpRefusesTheAssociation) {
  auto cfg = socks_only_config();
  cfg["default"]["via"] = "block";
  HopgateProcess hopgate(cfg);
  auto a = associate(hopgate);
  EXPECT_EQ(a.reply.rep, 0x02) << to_hex(a.reply.raw);
  EXPECT_TRUE(wait_closed(a.control, 10s));
}

TEST(SocksUdpRoutes, DatagramsOnRoutesWithoutUdpAreDropped) {
  UdpEcho allowed, blocked, via_http;
  auto cfg = socks_only_config();
  cfg["upstreams"] = {{"web", "http://127.0.0.1:9"}, {"old", "socks4://127.0.0.1:9"}};
  cfg["routes"] = nlohmann::json::array({
      {{"match", {{"port", std::to_string(blocked.port_v4())}}}, {"via", "block"}},
      {{"match", {{"port", std::to_string(via_http.port_v4())}}}, {"via", nlohmann::json::array({"web"})}},
  });
  HopgateProcess hopgate(cfg);
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  udp_send(udp, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", blocked.port_v4(), bytes_of("to block")));
  udp_send(udp, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", via_http.port_v4(), bytes_of("to http")));
  EXPECT_FALSE(udp_recv(udp, 700ms).has_value());
  expect_echo(udp, a, "127.0.0.1", allowed.port_v4(), "127.0.0.1", hopgate);
  EXPECT_EQ(blocked.datagrams(), 0u);
  EXPECT_EQ(via_http.datagrams(), 0u);
}

// ---- through Dante as the upstream SOCKS5 hop ----------------------------------------------

TEST(SocksUdpUpstream, Ipv4AndDomainThroughDante) {
  UdpEcho echo;
  Dante dante;
  HopgateProcess hopgate(via_upstream("socks5://" + dante.address()));
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0) << hopgate.log();
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate, "via dante");
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate, "again");
  // socks5:// resolves here and sends Dante the address.
  expect_echo(udp, a, "localhost", echo.port_v4(), "127.0.0.1", hopgate, "by name");
  EXPECT_EQ(echo.datagrams(), 3u) << dante.log();
}

TEST(SocksUdpUpstream, RemoteNameThroughDanteSocks5h) {
  UdpEcho echo;
  Dante dante;
  HopgateProcess hopgate(via_upstream("socks5h://" + dante.address()));
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0) << hopgate.log();
  // socks5h:// passes the name on; Dante resolves it.
  expect_echo(udp, a, "localhost", echo.port_v4(), "127.0.0.1", hopgate, "dante resolves");
}

TEST(SocksUdpUpstream, Ipv6ThroughDante) {
  UdpEcho echo(ListenOptions{true, true});
  DanteLoopback dante;
  HopgateProcess hopgate(via_upstream("socks5://" + dante.address()));
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0) << hopgate.log();
  auto d = round_trip(udp, a, "::1", echo.port_v6(), "over v6");
  ASSERT_TRUE(d.has_value()) << "no reply via Dante to [::1]\n--- hopgate ---\n" << hopgate.log() << "\n--- dante ---\n" << dante.log();
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, echo.port_v6());
  EXPECT_EQ(text(d->payload), "over v6");
}

TEST(SocksUdpUpstream, DnsQueryThroughDante) {
  TinyDns dns;
  Dante dante;
  HopgateProcess hopgate(via_upstream("socks5://" + dante.address()));
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  expect_dns_answer(udp, a, dns, hopgate);
}

TEST(SocksUdpUpstream, AssociationEndsWithItsTcpConnection) {
  UdpEcho echo;
  Dante dante;
  HopgateProcess hopgate(via_upstream("socks5://" + dante.address()));
  Fd udp = udp_bound("127.0.0.1");
  auto a = associate(hopgate);
  ASSERT_EQ(a.reply.rep, 0);
  expect_echo(udp, a, "127.0.0.1", echo.port_v4(), "127.0.0.1", hopgate);
  a.control.reset();
  std::this_thread::sleep_for(300ms);
  udp_send(udp, a.relay_ip(), a.relay_port(), wrap("127.0.0.1", echo.port_v4(), bytes_of("after close")));
  EXPECT_FALSE(udp_recv(udp, 700ms).has_value());
  EXPECT_EQ(echo.datagrams(), 1u);
}
