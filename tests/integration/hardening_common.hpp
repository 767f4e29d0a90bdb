#pragma once
// Shared pieces of the hardening integration tests: connections from a chosen loopback source
// address (127.0.0.0/8 is all local on Linux, so each test can be several "clients"), raw HTTP
// requests, SOCKS5 CONNECT outcomes, a tiny DNS server that answers every A query with one
// address, and the fd limit of the test process itself.
#include "support/hopgate_process.hpp"
#include "support/net.hpp"
#include "support/socks_wire.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace hopgate::test::hardening {

/// SOCKS, HTTP and admin listeners on ephemeral loopback ports, direct routing, a handshake
/// timeout long enough that only the test decides when a client is too slow.
inline nlohmann::json base_config() {
  return nlohmann::json::parse(R"({
    "listeners": {
      "socks": { "listen": "127.0.0.1:0" },
      "http":  { "listen": "127.0.0.1:0" },
      "admin": { "listen": "127.0.0.1:0" }
    },
    "default": { "via": "direct" },
    "timeouts": { "handshake": 30 }
  })");
}

inline std::string proxy_url(const HopgateProcess& hg) { return "http://127.0.0.1:" + std::to_string(hg.port("http")); }

/// Connects from `source` (an IPv4 loopback address) to 127.0.0.1:port; an invalid Fd on failure.
inline Fd connect_from(const std::string& source, std::uint16_t port, std::chrono::milliseconds timeout = 5s) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return Fd();
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    if (errno != EINPROGRESS) return Fd();
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return Fd();
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Fd();
  }
  ::fcntl(fd.get(), F_SETFL, flags);
  return fd;
}

/// The outcome of a SOCKS5 CONNECT without authentication: the REP byte, or -1 when the
/// connection closed (or timed out) before a reply. The Fd stays open in *kept on success.
inline int socks5_connect(std::uint16_t proxy_port, const std::string& host, std::uint16_t port,
                          const std::string& source = "127.0.0.1", Fd* kept = nullptr) {
  auto fd = connect_from(source, proxy_port);
  if (!fd) return -2;
  if (!send_all(fd, socks::greeting({0x00}))) return -1;
  auto sel = recv_exact(fd, 2, 10s);
  if (!sel || (*sel)[1] != 0x00) return -1;
  if (!send_all(fd, socks::request(socks::kConnect, host, port))) return -1;
  auto reply = socks::read_reply5(fd, 15s);
  if (!reply) return -1;
  if (kept) *kept = std::move(fd);
  return reply->rep;
}

/// SOCKS4 CONNECT: the CD byte (0x5A granted, 0x5B refused) or -1.
inline int socks4_connect(std::uint16_t proxy_port, const std::string& ipv4, std::uint16_t port,
                          const std::string& source = "127.0.0.1") {
  auto fd = connect_from(source, proxy_port);
  if (!fd) return -2;
  if (!send_all(fd, socks::socks4_request(socks::kConnect, ipv4, port))) return -1;
  auto reply = socks::read_reply4(fd, 15s);
  return reply ? reply->cd : -1;
}

struct HttpReply {
  int status = -1; ///< -1: no status line before the close
  std::string text; ///< the whole reply as received
};

/// Sends `raw` on a new connection from `source` and reads until the server closes (or timeout).
inline HttpReply http_exchange(std::uint16_t port, const std::string& raw, const std::string& source = "127.0.0.1",
                               std::chrono::milliseconds timeout = 15s) {
  HttpReply r;
  auto fd = connect_from(source, port);
  if (!fd) return r;
  send_all(fd, raw);
  auto got = recv_until_close(fd, timeout);
  r.text.assign(got.data.begin(), got.data.end());
  if (r.text.rfind("HTTP/1.", 0) == 0 && r.text.size() >= 12) r.status = std::stoi(r.text.substr(9, 3));
  return r;
}

/// GET `path` from the admin API (HTTP/1.1, Connection: close).
inline HttpReply admin_get(const HopgateProcess& hg, const std::string& path, const std::string& token = "") {
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  return http_exchange(hg.port("admin"), req + "\r\n");
}

/// The body of an HTTP reply (after the blank line).
inline std::string body_of(const HttpReply& r) {
  auto at = r.text.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : r.text.substr(at + 4);
}

/// Raises this process's soft fd limit to its hard limit (tests that open many sockets).
inline rlim_t raise_own_fd_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

/// A DNS server on 127.0.0.1 (UDP) answering every A query with `answer` and every other query
/// with an empty NOERROR answer; for names that must resolve to a chosen address.
class FixedDns {
public:
  explicit FixedDns(const std::string& answer) {
    ::inet_pton(AF_INET, answer.c_str(), &answer_);
    fd_ = Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("FixedDns: bind");
    socklen_t len = sizeof a;
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FixedDns() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::uint64_t queries() const { return queries_.load(); }

private:
  void serve() {
    std::uint8_t buf[1500];
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      auto n = ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 12) continue;
      ++queries_;
      std::size_t q = 12;
      while (q < static_cast<std::size_t>(n) && buf[q] != 0) q += buf[q] + 1;
      if (q + 5 > static_cast<std::size_t>(n)) continue;
      std::size_t qend = q + 5;
      std::uint16_t qtype = static_cast<std::uint16_t>(buf[q + 1] << 8 | buf[q + 2]);
      Bytes out(buf, buf + qend);
      out[2] = 0x81;
      out[3] = 0x80;
      out[4] = 0, out[5] = 1;                                // one question
      out[6] = 0, out[7] = qtype == 1 ? 1 : 0;               // answers
      out[8] = out[9] = out[10] = out[11] = 0;
      if (qtype == 1) {
        Bytes rr{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
        auto* ip = reinterpret_cast<const std::uint8_t*>(&answer_);
        rr.insert(rr.end(), ip, ip + 4);
        out.insert(out.end(), rr.begin(), rr.end());
      }
      ::sendto(fd_.get(), out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  in_addr answer_{};
  Fd fd_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> queries_{0};
  std::thread thread_;
};

} // namespace hopgate::test::hardening
