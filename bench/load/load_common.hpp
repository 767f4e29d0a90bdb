#pragma once
// Shared pieces of the bench load programs (echo_server, idle_tunnels, setup_rate): argument
// parsing, endpoint parsing, a SOCKS5 no-auth CONNECT client and the fd limit. Header-only Asio,
// no hopgate code: these programs measure hopgate and its peers the same way.
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

/// "--key value" pairs and bare "--flag"s; anything else is an error.
class Args {
 public:
  Args(int argc, char** argv, std::string_view usage) : usage_(usage) {
    for (int i = 1; i < argc; ++i) {
      std::string k = argv[i];
      if (k == "-h" || k == "--help") die("");
      if (k.rfind("--", 0) != 0) die("unexpected argument " + k);
      k = k.substr(2);
      if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0) {
        kv_[k] = argv[++i];
      } else {
        kv_[k] = "";
      }
    }
  }
  bool has(const std::string& k) const { return kv_.count(k) != 0; }
  std::string str(const std::string& k, std::string def = {}) const {
    auto it = kv_.find(k);
    return it == kv_.end() ? def : it->second;
  }
  std::string need(const std::string& k) const {
    auto it = kv_.find(k);
    if (it == kv_.end() || it->second.empty()) die("missing --" + k);
    return it->second;
  }
  double num(const std::string& k, double def) const {
    auto it = kv_.find(k);
    if (it == kv_.end()) return def;
    char* end = nullptr;
    double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != 0) die("--" + k + " wants a number");
    return v;
  }
  [[noreturn]] void die(const std::string& why) const {
    if (!why.empty()) std::fprintf(stderr, "error: %s\n", why.c_str());
    std::fprintf(stderr, "%.*s", static_cast<int>(usage_.size()), usage_.data());
    std::exit(2);
  }

 private:
  std::string_view usage_;
  std::map<std::string, std::string> kv_;
};

/// "127.0.0.1:1080" or "[::1]:1080".
inline tcp::endpoint parse_endpoint(const std::string& s, bool allow_port_zero = false) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("want host:port, got " + s);
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = std::atoi(s.c_str() + colon + 1);
  if (port < (allow_port_zero ? 0 : 1) || port > 65535) throw std::invalid_argument("bad port in " + s);
  return {asio::ip::make_address(host), static_cast<std::uint16_t>(port)};
}

/// Raise RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
inline rlim_t raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// SOCKS5 without authentication: greeting, wait for the method, CONNECT, wait for the reply.
/// Nothing is pipelined (microsocks drops bytes sent behind a request before its reply).
inline asio::awaitable<void> socks5_connect(tcp::socket& s, const tcp::endpoint& target) {
  std::array<std::uint8_t, 3> greet{5, 1, 0};
  co_await asio::async_write(s, asio::buffer(greet), asio::use_awaitable);
  std::array<std::uint8_t, 2> method{};
  co_await asio::async_read(s, asio::buffer(method), asio::use_awaitable);
  if (method[0] != 5 || method[1] != 0) throw Failure("socks5 method refused");

  std::array<std::uint8_t, 22> req{};
  std::size_t n = 0;
  req[n++] = 5;
  req[n++] = 1; // CONNECT
  req[n++] = 0;
  auto addr = target.address();
  if (addr.is_v4()) {
    req[n++] = 1;
    auto b = addr.to_v4().to_bytes();
    for (auto c : b) req[n++] = c;
  } else {
    req[n++] = 4;
    auto b = addr.to_v6().to_bytes();
    for (auto c : b) req[n++] = c;
  }
  req[n++] = static_cast<std::uint8_t>(target.port() >> 8);
  req[n++] = static_cast<std::uint8_t>(target.port() & 0xff);
  co_await asio::async_write(s, asio::buffer(req.data(), n), asio::use_awaitable);

  std::array<std::uint8_t, 4> head{};
  co_await asio::async_read(s, asio::buffer(head), asio::use_awaitable);
  if (head[0] != 5) throw Failure("socks5 reply: bad version");
  if (head[1] != 0) throw Failure("socks5 reply code " + std::to_string(head[1]));
  std::size_t rest = 0;
  switch (head[3]) {
    case 1: rest = 4 + 2; break;
    case 4: rest = 16 + 2; break;
    case 3: {
      std::array<std::uint8_t, 1> len{};
      co_await asio::async_read(s, asio::buffer(len), asio::use_awaitable);
      rest = len[0] + 2u;
      break;
    }
    default: throw Failure("socks5 reply: bad address type");
  }
  std::array<std::uint8_t, 260> skip{};
  co_await asio::async_read(s, asio::buffer(skip.data(), rest), asio::use_awaitable);
}

/// The echo server closes a connection right after echoing a message that starts with this.
inline constexpr std::string_view kQuitTag = "hg-quit_";

/// One echo round trip of a fixed 16-byte message; throws on a short or wrong answer.
/// With `last`, the message asks the echo server to close after answering, and this waits for
/// that end of stream: the server closes first, so the TIME_WAIT state stays on its listening
/// port (and on the proxy's) instead of taking an ephemeral port from the client or the proxy.
/// Back-to-back runs would otherwise exhaust the ephemeral range of a proxy that binds before
/// connecting (Dante).
inline asio::awaitable<void> echo_round_trip(tcp::socket& s, std::uint32_t tag, bool last = false) {
  std::array<char, 17> buf{};
  std::snprintf(buf.data(), buf.size(), "%s%07u", last ? "hg-quit_" : "hg-bench", static_cast<unsigned>(tag % 10000000u));
  std::array<char, 16> out{};
  std::copy_n(buf.begin(), 15, out.begin());
  out[15] = '\n';
  co_await asio::async_write(s, asio::buffer(out), asio::use_awaitable);
  std::array<char, 16> in{};
  co_await asio::async_read(s, asio::buffer(in), asio::use_awaitable);
  if (in != out) throw Failure("echo mismatch");
  if (last) {
    std::array<char, 64> rest{};
    boost::system::error_code ec;
    std::size_t n = co_await s.async_read_some(asio::buffer(rest), asio::redirect_error(asio::use_awaitable, ec));
    if (ec != asio::error::eof) throw Failure(ec ? "no end of stream: " + ec.message() : "data after the echo (" + std::to_string(n) + " bytes)");
  }
}

/// Runs `op` with a deadline; on expiry the socket is closed and Failure("timeout") thrown.
template <typename Op>
asio::awaitable<void> with_deadline(tcp::socket& s, std::chrono::steady_clock::duration d, Op op) {
  asio::steady_timer t(s.get_executor());
  t.expires_after(d);
  auto r = co_await (op() || t.async_wait(asio::use_awaitable));
  if (r.index() == 1) {
    boost::system::error_code ec;
    s.close(ec);
    throw Failure("timeout");
  }
}

/// A short, stable label for an exception (for error counts).
inline std::string error_label(const std::exception& e) {
  if (auto* se = dynamic_cast<const boost::system::system_error*>(&e)) return se->code().message();
  return e.what();
}

} // namespace bench
