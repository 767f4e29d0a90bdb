#pragma once
// Shared pieces of the routing, upstream-hop, DNS-leak and upstream-group integration tests:
// a gateway config with all three listeners, a raw HTTP client for the admin API and for proxy
// error bodies, curl through either front end, a loopback DNS server that counts the queries it
// gets, and a SOCKS5 server that records what it was asked for.
#include "support/curl.hpp"
#include "support/hopgate_process.hpp"
#include "support/http_wire.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/socks_wire.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace hopgate::test::rt {

using json = nlohmann::json;
namespace sw = hopgate::test::socks;

inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// A hopgate with SOCKS, HTTP and admin listeners on 127.0.0.1:0, the given upstreams and routes.
/// The connect timeout is short so that a dead upstream costs the test little time.
inline json gateway_config(const json& upstreams, const json& routes, const json& default_via = "direct",
                           const json& extra = json::object()) {
  json c = {
      {"listeners",
       {{"socks", {{"listen", {"127.0.0.1:0"}}}}, {"http", {{"listen", {"127.0.0.1:0"}}}}, {"admin", {{"listen", {"127.0.0.1:0"}}}}}},
      {"upstreams", upstreams},
      {"routes", routes},
      {"default", {{"via", default_via}}},
      {"timeouts", {{"connect", 5}}},
  };
  c.merge_patch(extra);
  return c;
}

inline std::string socks_addr(const HopgateProcess& h) { return "127.0.0.1:" + std::to_string(h.port("socks")); }
inline std::string http_proxy(const HopgateProcess& h) { return "http://127.0.0.1:" + std::to_string(h.port("http")); }
inline std::string authority(const std::string& host, std::uint16_t port) { return host + ":" + std::to_string(port); }

// ------------------------------------------------------------------------------------------------
// curl through either front end

enum class Client { socks5_hostname, socks5, http_forward, http_connect };

inline const char* to_string(Client c) {
  switch (c) {
  case Client::socks5_hostname: return "socks5-hostname";
  case Client::socks5: return "socks5";
  case Client::http_forward: return "http absolute-URI";
  case Client::http_connect: return "http CONNECT";
  }
  return "?";
}

/// curl `url` through hopgate as `client`; `user` ("name:password") for the proxy when not empty.
inline CurlResult fetch(Client client, const HopgateProcess& hg, const std::string& url, const std::string& user = "",
                        std::chrono::seconds timeout = 20s) {
  std::vector<std::string> args;
  switch (client) {
  case Client::socks5_hostname: args = {"--socks5-hostname", socks_addr(hg)}; break;
  case Client::socks5: args = {"--socks5", socks_addr(hg)}; break;
  case Client::http_forward: args = {"-x", http_proxy(hg)}; break;
  case Client::http_connect: args = {"-p", "-x", http_proxy(hg)}; break;
  }
  if (!user.empty()) args.insert(args.end(), {"--proxy-user", user});
  args.push_back(url);
  return run_curl(args, timeout);
}

// ------------------------------------------------------------------------------------------------
// Raw HTTP: the admin API and proxy error answers

/// Sends `request` on a new connection to 127.0.0.1:port and reads one response.
inline std::optional<HttpResponse> http_exchange(std::uint16_t port, const std::string& request) {
  Fd fd = connect_tcp("127.0.0.1", port);
  if (!send_all(fd, request)) return std::nullopt;
  return read_http_response(fd, false, 15s);
}

/// GET path from hopgate's admin API.
inline HttpResponse admin_get(const HopgateProcess& hg, const std::string& path) {
  auto r = http_exchange(hg.port("admin"), "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (!r) throw std::runtime_error("admin API: no answer to GET " + path);
  return *r;
}

/// GET /api/v1/upstreams as {name: entry}.
inline std::map<std::string, json> upstreams(const HopgateProcess& hg) {
  auto r = admin_get(hg, "/api/v1/upstreams");
  if (r.status != 200) throw std::runtime_error("GET /api/v1/upstreams: " + r.describe());
  auto doc = json::parse(r.body);
  std::map<std::string, json> out;
  for (auto& u : doc["upstreams"]) out[u["name"].get<std::string>()] = u;
  return out;
}

/// The "health" object of one upstream.
inline json health(const HopgateProcess& hg, const std::string& name) {
  auto all = upstreams(hg);
  auto it = all.find(name);
  if (it == all.end()) throw std::runtime_error("no upstream " + name + " in /api/v1/upstreams");
  return it->second["health"];
}

inline std::uint64_t successes(const HopgateProcess& hg, const std::string& name) {
  return health(hg, name)["successes"].get<std::uint64_t>();
}

/// Successes of each named upstream, in one admin call.
inline std::map<std::string, std::uint64_t> successes_of(const HopgateProcess& hg, const std::vector<std::string>& names) {
  auto all = upstreams(hg);
  std::map<std::string, std::uint64_t> out;
  for (auto& n : names) out[n] = all.at(n)["health"]["successes"].get<std::uint64_t>();
  return out;
}

/// The value of a Prometheus sample ("name" or "name{label=\"v\"}") in GET /metrics; nullopt when absent.
inline std::optional<double> metric(const HopgateProcess& hg, const std::string& sample) {
  auto r = admin_get(hg, "/metrics");
  std::size_t pos = 0;
  while (pos < r.body.size()) {
    auto end = r.body.find('\n', pos);
    if (end == std::string::npos) end = r.body.size();
    std::string line = r.body.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with(sample + " ")) return std::stod(line.substr(sample.size() + 1));
  }
  return std::nullopt;
}

/// Polls `pred` every `step` until it holds or `timeout` passes.
template <class Pred> bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s, std::chrono::milliseconds step = 100ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// ------------------------------------------------------------------------------------------------
// Raw SOCKS: reply codes

/// SOCKS5 CONNECT to host:port through hopgate (no auth, or user/password); the reply code, or -1
/// when no complete reply came. `*raw` gets the reply bytes.
inline int socks5_reply(const HopgateProcess& hg, const std::string& host, std::uint16_t port,
                        const std::optional<std::pair<std::string, std::string>>& user = std::nullopt, Bytes* raw = nullptr) {
  Fd fd = connect_tcp("127.0.0.1", hg.port("socks"));
  if (!send_all(fd, sw::greeting({user ? 2 : 0}))) return -1;
  auto m = recv_exact(fd, 2, 10s);
  if (!m || (*m)[0] != 5) return -1;
  if (user) {
    if ((*m)[1] != 2) return -1;
    if (!send_all(fd, sw::userpass(user->first, user->second))) return -1;
    auto st = recv_exact(fd, 2, 10s);
    if (!st || (*st)[1] != 0) return -1;
  } else if ((*m)[1] != 0) {
    return -1;
  }
  if (!send_all(fd, sw::request(sw::kConnect, host, port))) return -1;
  Bytes partial;
  auto r = sw::read_reply5(fd, 20s, &partial);
  if (raw) *raw = r ? r->raw : partial;
  return r ? r->rep : -1;
}

/// SOCKS4 (IPv4 literal) or SOCKS4a (a name) CONNECT through hopgate; the CD byte or -1.
inline int socks4_reply(const HopgateProcess& hg, const std::string& host, std::uint16_t port) {
  Fd fd = connect_tcp("127.0.0.1", hg.port("socks"));
  boost::system::error_code ec;
  boost::asio::ip::make_address_v4(host, ec);
  if (!send_all(fd, ec ? sw::socks4a_request(sw::kConnect, host, port) : sw::socks4_request(sw::kConnect, host, port))) return -1;
  auto r = sw::read_reply4(fd, 20s);
  return r ? r->cd : -1;
}

/// CONNECT host:port through hopgate's HTTP front end; the answer (status, body).
inline HttpResponse http_connect(const HopgateProcess& hg, const std::string& host_port) {
  auto r = http_exchange(hg.port("http"), "CONNECT " + host_port + " HTTP/1.1\r\nHost: " + host_port + "\r\n\r\n");
  if (!r) throw std::runtime_error("no answer to CONNECT " + host_port);
  return *r;
}

/// GET url (absolute-URI) through hopgate's HTTP front end.
inline HttpResponse http_forward(const HopgateProcess& hg, const std::string& url) {
  auto start = url.find("://");
  auto host = url.substr(start + 3, url.find('/', start + 3) - start - 3);
  auto r = http_exchange(hg.port("http"), "GET " + url + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
  if (!r) throw std::runtime_error("no answer to GET " + url);
  return *r;
}

/// One tunnel through hopgate's SOCKS5 front end to a TcpEcho; true when the bytes came back.
inline bool echo_through_socks5(const HopgateProcess& hg, const std::string& host, std::uint16_t port, std::string* error = nullptr) {
  try {
    Fd fd = sw::connect5(hg.port("socks"), host, port);
    auto payload = bytes_of("ping through the group");
    if (!send_all(fd, payload)) throw std::runtime_error("send failed");
    auto back = recv_exact(fd, payload.size(), 10s);
    if (!back || *back != payload) throw std::runtime_error("echo did not come back");
    return true;
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return false;
  }
}

// ------------------------------------------------------------------------------------------------
// A DNS server on 127.0.0.1 (UDP) that answers every A query with 127.0.0.1 and every other
// query with no records, and counts the queries per name and type.

class CountingDns {
public:
  CountingDns() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("dns: socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("dns: bind failed");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~CountingDns() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  CountingDns(const CountingDns&) = delete;
  CountingDns& operator=(const CountingDns&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  /// Queries for `name` (lowercase, no trailing dot) of type `qtype` (1 A, 28 AAAA; 0: any type).
  int queries(const std::string& name, int qtype = 0) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (auto& [key, count] : counts_)
      if (key.first == name && (qtype == 0 || key.second == qtype)) n += count;
    return n;
  }
  int total() const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (auto& [key, count] : counts_) n += count;
    return n;
  }
  /// "name/type xN, ..." for messages.
  std::string describe() const {
    std::lock_guard lock(mutex_);
    std::string s;
    for (auto& [key, count] : counts_)
      s += (s.empty() ? "" : ", ") + key.first + "/" + std::to_string(key.second) + " x" + std::to_string(count);
    return s.empty() ? "(no queries)" : s;
  }

private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      std::uint8_t buf[1500];
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      auto n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n < 17) continue;
      // Header (12), one question: labels, type, class.
      std::size_t pos = 12;
      std::string name;
      bool ok = true;
      while (pos < static_cast<std::size_t>(n) && buf[pos] != 0) {
        std::size_t l = buf[pos];
        if (l > 63 || pos + 1 + l >= static_cast<std::size_t>(n)) {
          ok = false;
          break;
        }
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<const char*>(buf + pos + 1), l);
        pos += 1 + l;
      }
      if (!ok || pos + 5 > static_cast<std::size_t>(n)) continue;
      pos += 1; // the root label
      int qtype = (buf[pos] << 8) | buf[pos + 1];
      std::size_t qend = pos + 4;
      {
        std::lock_guard lock(mutex_);
        ++counts_[{lower(name), qtype}];
      }
      std::vector<std::uint8_t> out(buf, buf + qend);
      out[2] = static_cast<std::uint8_t>(0x80 | (buf[2] & 0x01)); // QR, opcode 0, RD copied
      out[3] = 0x80;                                              // RA, rcode 0
      out[4] = 0, out[5] = 1;                                     // QDCOUNT 1
      out[6] = 0, out[7] = qtype == 1 ? 1 : 0;                    // ANCOUNT
      out[8] = out[9] = out[10] = out[11] = 0;
      if (qtype == 1) {
        const std::uint8_t answer[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
        out.insert(out.end(), std::begin(answer), std::end(answer));
      }
      ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int> counts_;
};

// ------------------------------------------------------------------------------------------------
// A SOCKS5 server (no authentication) that records each CONNECT request as it arrived, grants it
// without connecting anywhere, and then answers one HTTP request itself (or, for a TLS-less
// CONNECT tunnel, whatever the client sends first) with "hello from the recording upstream\n".

class RecordingSocks5 : public TcpServerBase {
public:
  struct Request {
    std::uint8_t cmd = 0, atyp = 0;
    std::string host; ///< the domain as sent (ATYP 3), or the address in text
    std::uint16_t port = 0;
  };
  static constexpr const char* kBody = "hello from the recording upstream\n";

  RecordingSocks5() : TcpServerBase(ListenOptions{}) { start(); }
  ~RecordingSocks5() override { shutdown(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

private:
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket s) override {
    namespace asio = boost::asio;
    using asio::use_awaitable;
    boost::system::error_code ec;
    auto tok = asio::redirect_error(use_awaitable, ec);
    std::uint8_t hdr[4];
    co_await asio::async_read(s, asio::buffer(hdr, 2), tok);
    if (ec || hdr[0] != 5) co_return;
    std::vector<std::uint8_t> methods(hdr[1]);
    co_await asio::async_read(s, asio::buffer(methods), tok);
    const std::uint8_t choice[] = {5, 0};
    co_await asio::async_write(s, asio::buffer(choice), tok);
    co_await asio::async_read(s, asio::buffer(hdr, 4), tok);
    if (ec || hdr[0] != 5) co_return;
    Request r;
    r.cmd = hdr[1];
    r.atyp = hdr[3];
    if (r.atyp == 1) {
      std::uint8_t a[4];
      co_await asio::async_read(s, asio::buffer(a), tok);
      r.host = std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." + std::to_string(a[3]);
    } else if (r.atyp == 3) {
      std::uint8_t len = 0;
      co_await asio::async_read(s, asio::buffer(&len, 1), tok);
      r.host.resize(len);
      co_await asio::async_read(s, asio::buffer(r.host.data(), len), tok);
    } else if (r.atyp == 4) {
      std::uint8_t a[16];
      co_await asio::async_read(s, asio::buffer(a), tok);
      r.host = asio::ip::make_address_v6(*reinterpret_cast<asio::ip::address_v6::bytes_type*>(a)).to_string();
    } else {
      co_return;
    }
    std::uint8_t port[2];
    co_await asio::async_read(s, asio::buffer(port), tok);
    if (ec) co_return;
    r.port = static_cast<std::uint16_t>(port[0] << 8 | port[1]);
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(r);
    }
    const std::uint8_t ok[] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    co_await asio::async_write(s, asio::buffer(ok), tok);
    if (ec) co_return;
    asio::streambuf in;
    co_await asio::async_read_until(s, in, "\r\n\r\n", tok);
    if (ec) co_return;
    std::string body = kBody;
    std::string res = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n\r\n" + body;
    co_await asio::async_write(s, asio::buffer(res), tok);
    s.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    // Wait for the client to close.
    char sink[256];
    while (!ec) co_await s.async_read_some(asio::buffer(sink), tok);
  }

  mutable std::mutex mutex_;
  std::vector<Request> requests_;
};

} // namespace hopgate::test::rt
