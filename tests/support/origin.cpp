#include "support/origin.hpp"

#include "support/sha256.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <charconv>
#include <map>
#include <stdexcept>

namespace hopgate::test {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using asio::ip::udp;

// ---------------------------------------------------------------------------------------------
// TcpServerBase

TcpServerBase::TcpServerBase(ListenOptions opts) : opts_(opts) {
  if (!opts_.ipv4 && !opts_.ipv6) throw std::invalid_argument("server needs IPv4 or IPv6");
}

TcpServerBase::~TcpServerBase() { shutdown(); }

void TcpServerBase::start() {
  auto open = [&](const tcp::endpoint& ep) {
    auto a = std::make_unique<tcp::acceptor>(io_);
    a->open(ep.protocol());
    a->set_option(asio::socket_base::reuse_address(true));
    if (ep.address().is_v6()) a->set_option(asio::ip::v6_only(true));
    a->bind(ep);
    a->listen(asio::socket_base::max_listen_connections);
    return a;
  };
  // IPv4 and IPv6 share one port number so that a name resolving to either reaches us.
  for (int attempt = 0;; ++attempt) {
    acceptors_.clear();
    try {
      std::uint16_t port = 0;
      if (opts_.ipv4) {
        acceptors_.push_back(open(tcp::endpoint(asio::ip::address_v4::loopback(), 0)));
        port = acceptors_.back()->local_endpoint().port();
      }
      if (opts_.ipv6) {
        acceptors_.push_back(open(tcp::endpoint(asio::ip::address_v6::loopback(), port)));
        port = acceptors_.back()->local_endpoint().port();
      }
      port_ = port;
      break;
    } catch (const boost::system::system_error&) {
      if (attempt >= 50) throw;
    }
  }
  for (auto& a : acceptors_) asio::co_spawn(io_, accept_loop(*a), asio::detached);
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

void TcpServerBase::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  io_.stop();
  if (thread_.joinable()) thread_.join();
  acceptors_.clear();
}

std::vector<tcp::endpoint> TcpServerBase::peers() const {
  std::lock_guard lock(peers_mutex_);
  return peers_;
}

awaitable<void> TcpServerBase::accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue; // e.g. EMFILE: keep serving the others
    }
    accepted_.fetch_add(1);
    {
      boost::system::error_code ep_ec;
      auto ep = s.remote_endpoint(ep_ec);
      std::lock_guard lock(peers_mutex_);
      peers_.push_back(ep);
    }
    s.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, session(std::move(s)), asio::detached);
  }
}

// ---------------------------------------------------------------------------------------------
// HttpOrigin

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(std::string s) {
  auto sp = [](unsigned char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && sp(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && sp(s[i])) ++i;
  return s.substr(i);
}

struct RequestHead {
  std::string method, target, version;
  std::map<std::string, std::string> headers; // lower-case names; repeated ones joined by ", "
  bool has(const std::string& name) const { return headers.count(name) > 0; }
  std::string get(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

bool parse_head(const std::string& head, RequestHead& r) {
  size_t eol = head.find("\r\n");
  if (eol == std::string::npos) return false;
  std::string line = head.substr(0, eol);
  size_t a = line.find(' ');
  size_t b = line.rfind(' ');
  if (a == std::string::npos || b == a) return false;
  r.method = line.substr(0, a);
  r.target = line.substr(a + 1, b - a - 1);
  r.version = line.substr(b + 1);
  size_t pos = eol + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos || e == pos) break;
    std::string h = head.substr(pos, e - pos);
    pos = e + 2;
    size_t c = h.find(':');
    if (c == std::string::npos) return false;
    std::string name = lower(trim(h.substr(0, c)));
    std::string value = trim(h.substr(c + 1));
    auto [it, inserted] = r.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  return true;
}

bool has_token(const std::string& list, const std::string& token) {
  std::string l = lower(list);
  size_t start = 0;
  while (start <= l.size()) {
    size_t end = l.find(',', start);
    if (end == std::string::npos) end = l.size();
    if (trim(l.substr(start, end - start)) == token) return true;
    start = end + 1;
  }
  return false;
}

/// Makes sure buf holds at least n bytes.
awaitable<void> fill_to(tcp::socket& s, std::string& buf, size_t n) {
  if (buf.size() < n)
    co_await asio::async_read(s, asio::dynamic_buffer(buf), asio::transfer_exactly(n - buf.size()), use_awaitable);
}

awaitable<std::string> read_body(tcp::socket& s, std::string& buf, const RequestHead& req) {
  std::string body;
  if (has_token(req.get("transfer-encoding"), "chunked")) {
    for (;;) {
      size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(buf, 1 << 20), "\r\n", use_awaitable);
      std::string line = buf.substr(0, n - 2);
      buf.erase(0, n);
      size_t size = 0;
      auto semi = line.find(';');
      std::string hex = trim(line.substr(0, semi));
      auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
      if (ec != std::errc() || hex.empty()) throw std::runtime_error("bad chunk size");
      if (size == 0) {
        for (;;) { // trailers up to the empty line
          size_t t = co_await asio::async_read_until(s, asio::dynamic_buffer(buf, 1 << 20), "\r\n", use_awaitable);
          bool empty = (t == 2);
          buf.erase(0, t);
          if (empty) break;
        }
        break;
      }
      co_await fill_to(s, buf, size + 2);
      body.append(buf, 0, size);
      buf.erase(0, size + 2);
    }
  } else if (req.has("content-length")) {
    size_t len = std::stoull(req.get("content-length"));
    co_await fill_to(s, buf, len);
    body = buf.substr(0, len);
    buf.erase(0, len);
  }
  co_return body;
}

std::string response_head(int status, const std::string& reason, std::uint64_t length, bool keep_alive,
                          const std::string& type = "text/plain") {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  h += "Server: hopgate-test-origin\r\n";
  h += "Content-Type: " + type + "\r\n";
  h += "Content-Length: " + std::to_string(length) + "\r\n";
  if (!keep_alive) h += "Connection: close\r\n";
  h += "\r\n";
  return h;
}

} // namespace

HttpOrigin::HttpOrigin(ListenOptions opts) : TcpServerBase(opts) { start(); }
HttpOrigin::~HttpOrigin() { shutdown(); }

std::string HttpOrigin::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}
std::string HttpOrigin::url6(const std::string& path) const {
  return "http://[::1]:" + std::to_string(port()) + path;
}

awaitable<void> HttpOrigin::session(tcp::socket s) {
  try {
    std::string buf;
    for (;;) {
      boost::system::error_code ec;
      size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(buf, 1 << 20), "\r\n\r\n",
                                                 asio::redirect_error(use_awaitable, ec));
      if (ec) co_return; // EOF between requests, or a head too large
      std::string head = buf.substr(0, n);
      buf.erase(0, n);
      RequestHead req;
      if (!parse_head(head, req)) {
        std::string body = "bad request\n";
        co_await asio::async_write(s, asio::buffer(response_head(400, "Bad Request", body.size(), false) + body),
                                   use_awaitable);
        co_return;
      }
      bool keep_alive = (req.version == "HTTP/1.1") ? !has_token(req.get("connection"), "close")
                                                    : has_token(req.get("connection"), "keep-alive");
      if (has_token(req.get("expect"), "100-continue"))
        co_await asio::async_write(s, asio::buffer(std::string("HTTP/1.1 100 Continue\r\n\r\n")), use_awaitable);
      std::string body = co_await read_body(s, buf, req);
      requests_.fetch_add(1);

      std::string path = req.target;
      // Accept absolute-form too (a proxy that forwards it unchanged): keep only the path.
      if (path.rfind("http://", 0) == 0) {
        size_t slash = path.find('/', 7);
        path = slash == std::string::npos ? "/" : path.substr(slash);
      }
      std::string query;
      if (auto q = path.find('?'); q != std::string::npos) {
        query = path.substr(q + 1);
        path = path.substr(0, q);
      }

      if (req.method == "GET" && path == "/hello") {
        std::string b = "hello from origin\n";
        co_await asio::async_write(s, asio::buffer(response_head(200, "OK", b.size(), keep_alive) + b), use_awaitable);
      } else if (req.method == "GET" && path.rfind("/bytes/", 0) == 0) {
        std::uint64_t total = 0;
        std::string num = path.substr(7);
        auto [p, e] = std::from_chars(num.data(), num.data() + num.size(), total);
        if (e != std::errc() || p != num.data() + num.size()) {
          std::string b = "bad size\n";
          co_await asio::async_write(s, asio::buffer(response_head(400, "Bad Request", b.size(), keep_alive) + b),
                                     use_awaitable);
        } else {
          std::uint64_t seed = kOriginBytesSeed;
          if (query.rfind("seed=", 0) == 0) seed = std::stoull(query.substr(5));
          co_await asio::async_write(
              s, asio::buffer(response_head(200, "OK", total, keep_alive, "application/octet-stream")), use_awaitable);
          DeterministicStream gen(seed);
          std::vector<std::uint8_t> chunk(256 * 1024);
          std::uint64_t left = total;
          while (left > 0) {
            size_t k = static_cast<size_t>(std::min<std::uint64_t>(left, chunk.size()));
            gen.fill(chunk.data(), k);
            co_await asio::async_write(s, asio::buffer(chunk.data(), k), use_awaitable);
            left -= k;
          }
        }
      } else if (req.method == "POST" && path == "/echo") {
        co_await asio::async_write(
            s, asio::buffer(response_head(200, "OK", body.size(), keep_alive, "application/octet-stream") + body),
            use_awaitable);
      } else if (req.method == "GET" && path == "/headers") {
        co_await asio::async_write(s, asio::buffer(response_head(200, "OK", head.size(), keep_alive) + head),
                                   use_awaitable);
      } else {
        std::string b = "not found\n";
        co_await asio::async_write(s, asio::buffer(response_head(404, "Not Found", b.size(), keep_alive) + b),
                                   use_awaitable);
      }
      if (!keep_alive) {
        s.shutdown(tcp::socket::shutdown_send, ec);
        co_return;
      }
    }
  } catch (const std::exception&) {
    // Connection errors end the session only.
  }
}

// ---------------------------------------------------------------------------------------------
// TcpEcho

TcpEcho::TcpEcho(ListenOptions opts) : TcpServerBase(opts) { start(); }
TcpEcho::~TcpEcho() { shutdown(); }

awaitable<void> TcpEcho::session(tcp::socket s) {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    boost::system::error_code ec;
    size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::eof) {
      s.shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    if (ec) co_return;
    co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    bytes_.fetch_add(n);
  }
}

// ---------------------------------------------------------------------------------------------
// UdpEcho

UdpEcho::UdpEcho(ListenOptions opts) {
  if (opts.ipv4) {
    v4_ = std::make_unique<udp::socket>(io_, udp::endpoint(asio::ip::address_v4::loopback(), 0));
    port_v4_ = v4_->local_endpoint().port();
    asio::co_spawn(io_, loop(*v4_), asio::detached);
  }
  if (opts.ipv6) {
    v6_ = std::make_unique<udp::socket>(io_);
    v6_->open(udp::v6());
    v6_->set_option(asio::ip::v6_only(true));
    boost::system::error_code ec;
    v6_->bind(udp::endpoint(asio::ip::address_v6::loopback(), port_v4_), ec);
    if (ec) v6_->bind(udp::endpoint(asio::ip::address_v6::loopback(), 0));
    port_v6_ = v6_->local_endpoint().port();
    asio::co_spawn(io_, loop(*v6_), asio::detached);
  }
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

UdpEcho::~UdpEcho() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
  v4_.reset();
  v6_.reset();
}

awaitable<void> UdpEcho::loop(udp::socket& s) {
  std::vector<char> buf(65536);
  for (;;) {
    udp::endpoint from;
    boost::system::error_code ec;
    size_t n = co_await s.async_receive_from(asio::buffer(buf), from, asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !s.is_open()) co_return;
    if (ec) continue;
    datagrams_.fetch_add(1); // before the echo, so a client that got its answer sees it counted
    co_await s.async_send_to(asio::buffer(buf.data(), n), from, asio::redirect_error(use_awaitable, ec));
  }
}

} // namespace hopgate::test
