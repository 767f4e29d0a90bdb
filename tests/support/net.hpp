#pragma once
// Blocking socket helpers with timeouts for raw-protocol tests.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

/// A free TCP / UDP port on 127.0.0.1 (bound to port 0 and released; a small race is accepted).
std::uint16_t free_tcp_port();
std::uint16_t free_udp_port();

/// An owned file descriptor.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

private:
  int fd_ = -1;
};

/// Connects to host:port (numeric IPv4/IPv6 or a name) with a timeout; sets TCP_NODELAY.
/// Throws std::runtime_error on failure.
Fd connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout = 5s);
/// Like connect_tcp but returns an invalid Fd (and errno text in *error) instead of throwing.
Fd try_connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout = 5s,
                   std::string* error = nullptr);

/// Polls until host:port accepts a TCP connection or the timeout passes.
bool wait_port_open(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout = 10s);

/// Sends everything (blocking, MSG_NOSIGNAL). False on error.
bool send_all(int fd, std::span<const std::uint8_t> bytes);
bool send_all(int fd, std::string_view text);
bool send_all(const Fd& fd, std::span<const std::uint8_t> bytes);
bool send_all(const Fd& fd, std::string_view text);

/// Reads exactly n bytes; nullopt on timeout, error or EOF before n bytes.
std::optional<Bytes> recv_exact(int fd, std::size_t n, std::chrono::milliseconds timeout = 5s);
std::optional<Bytes> recv_exact(const Fd& fd, std::size_t n, std::chrono::milliseconds timeout = 5s);

struct RecvResult {
  Bytes data;
  bool closed = false; ///< the peer closed (EOF or ECONNRESET) before the timeout
  bool reset = false;  ///< it was ECONNRESET
};
/// Reads until the peer closes or the timeout passes.
RecvResult recv_until_close(int fd, std::chrono::milliseconds timeout = 10s);
RecvResult recv_until_close(const Fd& fd, std::chrono::milliseconds timeout = 10s);

/// True when the peer closes (recv returns 0 or ECONNRESET) within the timeout; data read meanwhile
/// is discarded (and stored in *discarded when given).
bool wait_closed(int fd, std::chrono::milliseconds timeout = 5s, Bytes* discarded = nullptr);
bool wait_closed(const Fd& fd, std::chrono::milliseconds timeout = 5s, Bytes* discarded = nullptr);

/// shutdown(fd, SHUT_WR).
void shutdown_write(const Fd& fd);

/// "05 00 ff" for messages.
std::string to_hex(std::span<const std::uint8_t> bytes, std::size_t max = 64);
/// Bytes from a list of values or a string.
Bytes bytes_of(std::initializer_list<int> values);
Bytes bytes_of(std::string_view text);
/// Appends b to a.
void append(Bytes& a, std::span<const std::uint8_t> b);
void append(Bytes& a, std::string_view b);

} // namespace hopgate::test
