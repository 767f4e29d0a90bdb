#include "support/net.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <fcntl.h>
#include <unistd.h>

namespace hopgate::test {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

std::uint16_t free_port(int type) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  Fd guard(fd);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

/// Waits for `events` on fd until the deadline. Returns revents (0 on timeout).
short wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    return p.revents;
  }
}

} // namespace

std::uint16_t free_tcp_port() { return free_port(SOCK_STREAM); }
std::uint16_t free_udp_port() { return free_port(SOCK_DGRAM); }

Fd try_connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                   std::string* error) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int gai = ::getaddrinfo(h.c_str(), service.c_str(), &hints, &res);
  if (gai != 0) {
    if (error) *error = "getaddrinfo(" + h + "): " + ::gai_strerror(gai);
    return Fd{};
  }
  auto deadline = Clock::now() + timeout;
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd) {
      last = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    int r = ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno != EINPROGRESS) {
      last = std::string("connect: ") + std::strerror(errno);
      continue;
    }
    if (r != 0) {
      short ev = wait_fd(fd.get(), POLLOUT, deadline);
      if (ev == 0) {
        last = "connect: timeout";
        continue;
      }
      int soerr = 0;
      socklen_t len = sizeof soerr;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0) {
        last = std::string("connect: ") + std::strerror(soerr);
        continue;
      }
    }
    int flags = ::fcntl(fd.get(), F_GETFL);
    ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::freeaddrinfo(res);
    return fd;
  }
  ::freeaddrinfo(res);
  if (error) *error = host + ":" + std::to_string(port) + ": " + last;
  return Fd{};
}

Fd connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  std::string err;
  Fd fd = try_connect_tcp(host, port, timeout, &err);
  if (!fd) throw std::runtime_error("connect_tcp " + err);
  return fd;
}

bool wait_port_open(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (try_connect_tcp(host, port, 1s)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

bool send_all(int fd, std::span<const std::uint8_t> bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}
bool send_all(int fd, std::string_view text) {
  return send_all(fd, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}
bool send_all(const Fd& fd, std::span<const std::uint8_t> bytes) { return send_all(fd.get(), bytes); }
bool send_all(const Fd& fd, std::string_view text) { return send_all(fd.get(), text); }

std::optional<Bytes> recv_exact(int fd, std::size_t n, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Bytes out(n);
  size_t got = 0;
  while (got < n) {
    short ev = wait_fd(fd, POLLIN, deadline);
    if (ev == 0) return std::nullopt;
    ssize_t r = ::recv(fd, out.data() + got, n - got, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return std::nullopt;
    }
    if (r == 0) return std::nullopt;
    got += static_cast<size_t>(r);
  }
  return out;
}
std::optional<Bytes> recv_exact(const Fd& fd, std::size_t n, std::chrono::milliseconds timeout) {
  return recv_exact(fd.get(), n, timeout);
}

RecvResult recv_until_close(int fd, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  RecvResult res;
  std::uint8_t buf[65536];
  for (;;) {
    short ev = wait_fd(fd, POLLIN, deadline);
    if (ev == 0) return res;
    ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      res.closed = true;
      res.reset = (errno == ECONNRESET);
      return res;
    }
    if (r == 0) {
      res.closed = true;
      return res;
    }
    res.data.insert(res.data.end(), buf, buf + r);
  }
}
RecvResult recv_until_close(const Fd& fd, std::chrono::milliseconds timeout) {
  return recv_until_close(fd.get(), timeout);
}

bool wait_closed(int fd, std::chrono::milliseconds timeout, Bytes* discarded) {
  auto r = recv_until_close(fd, timeout);
  if (discarded) *discarded = std::move(r.data);
  return r.closed;
}
bool wait_closed(const Fd& fd, std::chrono::milliseconds timeout, Bytes* discarded) {
  return wait_closed(fd.get(), timeout, discarded);
}

void shutdown_write(const Fd& fd) { ::shutdown(fd.get(), SHUT_WR); }

std::string to_hex(std::span<const std::uint8_t> bytes, std::size_t max) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    if (i) s += ' ';
    s += digits[bytes[i] >> 4];
    s += digits[bytes[i] & 15];
  }
  if (bytes.size() > max) s += " ... (" + std::to_string(bytes.size()) + " bytes)";
  if (bytes.empty()) s = "(no bytes)";
  return s;
}

Bytes bytes_of(std::initializer_list<int> values) {
  Bytes b;
  for (int v : values) b.push_back(static_cast<std::uint8_t>(v));
  return b;
}
Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }
void append(Bytes& a, std::span<const std::uint8_t> b) { a.insert(a.end(), b.begin(), b.end()); }
void append(Bytes& a, std::string_view b) { a.insert(a.end(), b.begin(), b.end()); }

} // namespace hopgate::test
