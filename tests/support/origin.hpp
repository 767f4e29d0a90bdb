#pragma once
// In-process servers for integration tests, each on its own thread and io_context, listening on
// loopback free ports; stopped (all connections dropped) by the destructor.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hopgate::test {

/// Seed of the bytes served by HttpOrigin's GET /bytes/N (unless ?seed=S is given).
inline constexpr std::uint64_t kOriginBytesSeed = 0x686f7067617465ULL; // "hopgate"

struct ListenOptions {
  bool ipv4 = true; ///< listen on 127.0.0.1
  bool ipv6 = false; ///< listen on [::1] (same port number as IPv4 when both)
};

/// Common machinery: io_context + thread, v4/v6 acceptors on one port number.
class TcpServerBase {
public:
  virtual ~TcpServerBase();
  TcpServerBase(const TcpServerBase&) = delete;
  TcpServerBase& operator=(const TcpServerBase&) = delete;

  std::uint16_t port() const { return port_; }
  /// Number of TCP connections accepted so far.
  std::uint64_t connections_accepted() const { return accepted_.load(); }
  /// Remote endpoints of all accepted connections, in accept order.
  std::vector<boost::asio::ip::tcp::endpoint> peers() const;

protected:
  explicit TcpServerBase(ListenOptions opts);
  /// Binds and starts accepting; call at the end of the derived constructor.
  void start();
  /// Stops the io_context and joins the thread; call first in the derived destructor.
  void shutdown();
  virtual boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket) = 0;

  boost::asio::io_context io_;

private:
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);

  ListenOptions opts_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> accepted_{0};
  mutable std::mutex peers_mutex_;
  std::vector<boost::asio::ip::tcp::endpoint> peers_;
  std::thread thread_;
  bool stopped_ = false;
};

/// An HTTP/1.1 keep-alive origin:
///   GET  /hello    -> "hello from origin\n"
///   GET  /bytes/N  -> N bytes of DeterministicStream(kOriginBytesSeed) (or ?seed=S), with Content-Length
///   POST /echo     -> the request body (Content-Length or chunked request bodies)
///   GET  /headers  -> the request head exactly as received (request line and headers, text/plain)
///   anything else  -> 404
class HttpOrigin : public TcpServerBase {
public:
  explicit HttpOrigin(ListenOptions opts = {});
  ~HttpOrigin() override;
  /// Number of requests answered so far.
  std::uint64_t requests() const { return requests_.load(); }
  /// "http://127.0.0.1:PORT" + path.
  std::string url(const std::string& path) const;
  /// "http://[::1]:PORT" + path.
  std::string url6(const std::string& path) const;

private:
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket) override;
  std::atomic<std::uint64_t> requests_{0};
};

/// A TCP echo server: echoes everything; when the client shuts down its write side, finishes
/// echoing, then shuts down its own write side and closes.
class TcpEcho : public TcpServerBase {
public:
  explicit TcpEcho(ListenOptions opts = {});
  ~TcpEcho() override;
  /// Total bytes echoed.
  std::uint64_t bytes_echoed() const { return bytes_.load(); }

private:
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket) override;
  std::atomic<std::uint64_t> bytes_{0};
};

/// A UDP echo server on 127.0.0.1 and/or [::1] (separate port numbers allowed; see port_v4/port_v6).
class UdpEcho {
public:
  explicit UdpEcho(ListenOptions opts = {});
  ~UdpEcho();
  UdpEcho(const UdpEcho&) = delete;
  UdpEcho& operator=(const UdpEcho&) = delete;
  std::uint16_t port_v4() const { return port_v4_; }
  std::uint16_t port_v6() const { return port_v6_; }
  /// Datagrams received (and echoed) so far.
  std::uint64_t datagrams() const { return datagrams_.load(); }

private:
  boost::asio::awaitable<void> loop(boost::asio::ip::udp::socket& s);
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ip::udp::socket> v4_, v6_;
  std::uint16_t port_v4_ = 0, port_v6_ = 0;
  std::atomic<std::uint64_t> datagrams_{0};
  std::thread thread_;
};

} // namespace hopgate::test
