// The HTTP proxy front end end to end: the real hopgate binary, real curl, loopback origins, and
// raw sockets for every error status. Keep-alive is proven by counting the TCP connections the
// origin accepts.
#include "support/curl.hpp"
#include "support/eventually.hpp"
#include "support/hopgate_process.hpp"
#include "support/http_wire.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/peers.hpp"
#include "support/sha256.hpp"
#include "support/tempdir.hpp"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

using namespace hopgate::test;
using json = nlohmann::json;
namespace asio = boost::asio;

namespace {

// ---------------------------------------------------------------------------------------------
// Local helpers

json proxy_config(const json& extra = json::object()) {
  json c = {{"listeners", {{"http", {{"listen", {"127.0.0.1:0"}}}}}}, {"default", {{"via", "direct"}}}};
  c.merge_patch(extra);
  return c;
}

std::string proxy_url(const HopgateProcess& hg) { return "http://" + hg.address("http"); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

/// One request on a fresh raw connection to the proxy; returns the response.
std::optional<HttpResponse> raw_exchange(const HopgateProcess& hg, const std::string& request, bool no_body = false) {
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  if (!send_all(fd, request)) return std::nullopt;
  return read_http_response(fd, no_body);
}

std::string origin_authority(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

/// An origin whose answers a test scripts: the handler sees each request head (and its index on
/// its connection) and says what to send back and whether to close.
struct OriginRequest {
  std::string method, target, head, body;
  int index = 0; ///< 0 for the first request on its connection
};
struct OriginAction {
  std::string response;        ///< bytes to send (ignored when drop or echo)
  bool close_after = false;    ///< close the connection after the response
  bool drop = false;           ///< close at once without answering
  bool send_continue = false;  ///< send "100 Continue" before reading the body
  bool echo = false;           ///< answer 200 with the request body
  bool skip_body = false;      ///< answer without reading the request body
};

class ScriptedOrigin : public TcpServerBase {
public:
  using Handler = std::function<OriginAction(const OriginRequest&)>;
  explicit ScriptedOrigin(Handler h) : TcpServerBase(ListenOptions{}), handler_(std::move(h)) { start(); }
  ~ScriptedOrigin() override { shutdown(); }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port()) + path; }
  int requests() const { return requests_.load(); }

private:
  asio::awaitable<void> session(asio::ip::tcp::socket s) override {
    using asio::use_awaitable;
    try {
      std::string buf;
      for (int i = 0;; ++i) {
        std::size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n", use_awaitable);
        OriginRequest req;
        req.head = buf.substr(0, n);
        buf.erase(0, n);
        req.index = i;
        auto sp1 = req.head.find(' '), sp2 = req.head.find(' ', sp1 + 1);
        req.method = req.head.substr(0, sp1);
        req.target = req.head.substr(sp1 + 1, sp2 - sp1 - 1);
        ++requests_;
        auto action = handler_(req);
        boost::system::error_code ec;
        if (action.drop) {
          s.close(ec);
          co_return;
        }
        if (action.send_continue)
          co_await asio::async_write(s, asio::buffer(std::string("HTTP/1.1 100 Continue\r\n\r\n")), use_awaitable);
        auto cl = header_of(req.head, "Content-Length");
        if (!cl.empty() && !action.skip_body) {
          std::size_t len = std::stoull(cl);
          if (buf.size() < len)
            co_await asio::async_read(s, asio::dynamic_buffer(buf), asio::transfer_exactly(len - buf.size()), use_awaitable);
          req.body = buf.substr(0, len);
          buf.erase(0, len);
        }
        std::string out = action.echo ? "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(req.body.size()) + "\r\n\r\n" + req.body
                                      : action.response;
        co_await asio::async_write(s, asio::buffer(out), use_awaitable);
        if (action.close_after) {
          s.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
          s.close(ec);
          co_return;
        }
      }
    } catch (const std::exception&) {
    }
  }

  Handler handler_;
  std::atomic<int> requests_{0};
};

/// Accepts connections and never says a word (a hop that hangs mid-handshake).
class SilentServer : public TcpServerBase {
public:
  SilentServer() : TcpServerBase(ListenOptions{}) { start(); }
  ~SilentServer() override { shutdown(); }

private:
  asio::awaitable<void> session(asio::ip::tcp::socket s) override {
    char c[256];
    boost::system::error_code ec;
    for (;;) {
      co_await s.async_read_some(asio::buffer(c), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Absolute-URI forwarding with curl

TEST(HttpFrontend, GetThroughAbsoluteUri) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n");
  auto v6 = run_curl({"-x", proxy_url(hg), "-w", "%{http_code}", origin.url("/missing")});
  EXPECT_EQ(v6.out, "not found\n404");
}

TEST(HttpFrontend, GetToIpv6Origin) {
  HttpOrigin origin(ListenOptions{.ipv4 = false, .ipv6 = true});
  HopgateProcess hg(proxy_config());
  auto r = run_curl({"-x", proxy_url(hg), origin.url6("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n");
}

TEST(HttpFrontend, PostBinaryBodyRoundTrips) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  TempDir dir;
  auto data = deterministic_bytes(11, 3 * 1024 * 1024 + 17);
  auto file = dir.write_file("body.bin", std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  auto r = run_curl({"-x", proxy_url(hg), "--data-binary", "@" + file.string(), origin.url("/echo")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out.size(), data.size());
  EXPECT_EQ(sha256_hex(r.out), sha256_hex(data));
}

TEST(HttpFrontend, ChunkedRequestBody) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  TempDir dir;
  auto data = deterministic_bytes(12, 700001);
  auto file = dir.write_file("body.bin", std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  auto r = run_curl({"-x", proxy_url(hg), "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file.string(),
                     origin.url("/echo")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(sha256_hex(r.out), sha256_hex(data));
}

TEST(HttpFrontend, ExpectContinueIsPassedOn) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  TempDir dir;
  auto data = deterministic_bytes(13, 200000);
  auto file = dir.write_file("body.bin", std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  auto started = std::chrono::steady_clock::now();
  auto r = run_curl({"-v", "-x", proxy_url(hg), "-H", "Expect: 100-continue", "--expect100-timeout", "10",
                     "--data-binary", "@" + file.string(), origin.url("/echo")});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(sha256_hex(r.out), sha256_hex(data));
  EXPECT_TRUE(contains(r.err, "HTTP/1.1 100 Continue")) << r.err;
  EXPECT_LT(took, 5s) << "curl waited for its expect timeout: the 100 did not come through";
}

TEST(HttpFrontend, HeadRequest) {
  ScriptedOrigin origin([](const OriginRequest& req) {
    OriginAction a;
    if (req.method == "HEAD") a.response = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n";
    else a.response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    return a;
  });
  HopgateProcess hg(proxy_config());
  // Two HEADs and a GET over one client connection: a body-less HEAD response must not eat the next.
  auto r = run_curl({"-x", proxy_url(hg), "-I", origin.url("/a"), origin.url("/b")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.out, "Content-Length: 1234")) << r.out;
  EXPECT_EQ(origin.connections_accepted(), 1u);
  auto g = run_curl({"-x", proxy_url(hg), origin.url("/c"), origin.url("/d")});
  ASSERT_TRUE(g.ok()) << g.describe();
  EXPECT_EQ(g.out, "okok");
  EXPECT_LE(origin.connections_accepted(), 2u); // a second client may land on the other worker's pool
}

TEST(HttpFrontend, NoContentAndNotModifiedKeepTheConnection) {
  ScriptedOrigin origin([](const OriginRequest& req) {
    OriginAction a;
    if (req.target == "/204") a.response = "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n";
    else if (req.target == "/304") a.response = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";
    else a.response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter";
    return a;
  });
  HopgateProcess hg(proxy_config());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  std::string host = origin_authority(origin.port());
  for (const char* path : {"/204", "/304", "/after"}) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(send_all(fd, "GET http://" + host + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
    auto r = read_http_response(fd);
    ASSERT_TRUE(r);
    std::string p = path;
    int want = p == "/204" ? 204 : p == "/304" ? 304 : 200;
    EXPECT_EQ(r->status, want);
    if (p == "/after") {
      EXPECT_EQ(r->body, "after");
    }
  }
  EXPECT_EQ(origin.connections_accepted(), 1u);
}

TEST(HttpFrontend, ReadUntilCloseResponseIsRechunkedForHttp11) {
  ScriptedOrigin origin([](const OriginRequest&) {
    OriginAction a;
    a.response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close";
    a.close_after = true;
    return a;
  });
  HopgateProcess hg(proxy_config());
  std::string host = origin_authority(origin.port());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  for (int i = 0; i < 2; ++i) { // the client connection survives the origin's close
    ASSERT_TRUE(send_all(fd, "GET http://" + host + "/x HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
    auto r = read_http_response(fd);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(lower(header_of(r->head, "Transfer-Encoding")), "chunked");
    EXPECT_EQ(r->body, "body until close");
  }
  // An HTTP/1.0 client gets the body raw, ended by close.
  auto c = run_curl({"-0", "-x", proxy_url(hg), origin.url("/y")});
  ASSERT_TRUE(c.ok()) << c.describe();
  EXPECT_EQ(c.out, "body until close");
}

TEST(HttpFrontend, ContentLengthBodyArrivesWholeOrTheClientConnectionCloses) {
  // Content-Length bodies are passed on straight from the upstream read buffer, piece by piece.
  std::string big(300 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + (i / 997) % 26);
  ScriptedOrigin origin([&big](const OriginRequest& r) {
    OriginAction a;
    if (r.target == "/big") a.response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big;
    else if (r.target == "/short") {
      // 100 bytes promised, 40 sent, then the origin hangs up.
      a.response = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(40, 's');
      a.close_after = true;
    } else a.response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall";
    return a;
  });
  HopgateProcess hg(proxy_config());
  std::string host = origin_authority(origin.port());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  for (std::string path : {"/small", "/big", "/small"}) { // one client connection, body after body
    ASSERT_TRUE(send_all(fd, "GET http://" + host + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
    auto r = read_http_response(fd);
    ASSERT_TRUE(r) << path << "\n" << hg.log();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, path == "/big" ? big : std::string("small")) << path;
  }
  // A body cut short upstream: the client sees the promised length and the connection end
  // early, never a complete-looking response.
  ASSERT_TRUE(send_all(fd, "GET http://" + host + "/short HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
  auto rest = recv_until_close(fd, 10s);
  ASSERT_TRUE(rest.closed) << "the client connection stayed open after a cut body";
  std::string got = text(rest.data);
  auto head_end = got.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << got;
  EXPECT_EQ(header_of(got.substr(0, head_end + 4), "Content-Length"), "100");
  EXPECT_EQ(got.substr(head_end + 4), std::string(40, 's'));
  EXPECT_TRUE(eventually([&] { return contains(hg.log(), "upstream failed mid-response"); })) << hg.log();
}

TEST(HttpFrontend, ChunkedResponse) {
  ScriptedOrigin origin([](const OriginRequest&) {
    OriginAction a;
    a.response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
    return a;
  });
  HopgateProcess hg(proxy_config());
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/a"), origin.url("/b")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello worldhello world");
  EXPECT_EQ(origin.connections_accepted(), 1u);
  auto old = run_curl({"-0", "-x", proxy_url(hg), origin.url("/c")});
  ASSERT_TRUE(old.ok()) << old.describe();
  EXPECT_EQ(old.out, "hello world");
}

TEST(HttpFrontend, Http10Client) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  auto r = run_curl({"-0", "-v", "-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n");
  EXPECT_TRUE(contains(r.err, "GET http://")) << r.err;
  // Without "Connection: keep-alive" an HTTP/1.0 client's connection ends after the response.
  std::string host = origin_authority(origin.port());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  ASSERT_TRUE(send_all(fd, "GET http://" + host + "/hello HTTP/1.0\r\n\r\n"));
  auto all = recv_until_close(fd, 5s);
  EXPECT_TRUE(all.closed);
  EXPECT_TRUE(contains(text(all.data), "hello from origin")) << text(all.data);
  // With it, the connection stays for a second request.
  Fd ka = connect_tcp("127.0.0.1", hg.port("http"));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(send_all(ka, "GET http://" + host + "/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto resp = read_http_response(ka);
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->body, "hello from origin\n");
    EXPECT_EQ(lower(header_of(resp->head, "Connection")), "keep-alive");
  }
}

// ---------------------------------------------------------------------------------------------
// Keep-alive and the upstream pool

TEST(HttpFrontend, KeepAliveReusesOneUpstreamConnection) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  auto url = origin.url("/hello");
  auto r = run_curl({"-x", proxy_url(hg), "-w", "[%{num_connects}]", url, url, url, url, url});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n[1]hello from origin\n[0]hello from origin\n[0]hello from origin\n[0]hello from origin\n[0]");
  EXPECT_EQ(origin.requests(), 5u);
  EXPECT_EQ(origin.connections_accepted(), 1u);
  // A second client is served from the same pool (same worker or not, never more than one per worker).
  auto again = run_curl({"-x", proxy_url(hg), url});
  ASSERT_TRUE(again.ok());
  EXPECT_LE(origin.connections_accepted(), 2u);
}

TEST(HttpFrontend, KeepAliveAcrossOrigins) {
  HttpOrigin a, b;
  HopgateProcess hg(proxy_config());
  auto r = run_curl({"-x", proxy_url(hg), "-w", "[%{num_connects}]", a.url("/hello"), b.url("/hello"), a.url("/hello"),
                     b.url("/hello"), a.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '['), 5);
  EXPECT_TRUE(r.out.starts_with("hello from origin\n[1]")) << r.out;
  EXPECT_FALSE(contains(r.out.substr(20), "[1]")) << "curl had to reconnect to the proxy: " << r.out;
  EXPECT_EQ(a.connections_accepted(), 1u);
  EXPECT_EQ(b.connections_accepted(), 1u);
  EXPECT_EQ(a.requests() + b.requests(), 5u);
}

TEST(HttpFrontend, PipelinedRequestsAnsweredInOrder) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  std::string host = origin_authority(origin.port());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  std::string one = "GET http://" + host + "/hello HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  std::string two = "GET http://" + host + "/bytes/10 HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  ASSERT_TRUE(send_all(fd, one + two));
  auto r1 = read_http_response(fd);
  auto r2 = read_http_response(fd);
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->body, "hello from origin\n");
  EXPECT_EQ(r2->body, text(deterministic_bytes(kOriginBytesSeed, 10)));
}

TEST(HttpFrontend, StalePooledConnectionIsRetriedForIdempotentOnly) {
  // The origin answers the first request of each connection and drops the connection at the
  // second one without a word: a kept-alive upstream that died in between.
  ScriptedOrigin origin([](const OriginRequest& req) {
    OriginAction a;
    if (req.index > 0) a.drop = true;
    else if (req.method == "POST") a.echo = true;
    else a.response = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes";
    return a;
  });
  HopgateProcess hg(proxy_config());
  std::string host = origin_authority(origin.port());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  auto get = "GET http://" + host + "/x HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(send_all(fd, get));
    auto r = read_http_response(fd);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "yes");
  }
  // GET 1: new; GET 2: pooled, dropped, retried on a new one; GET 3: same again.
  EXPECT_EQ(origin.connections_accepted(), 3u);
  // A POST on a pooled connection that dies is not sent again: the client hears 502.
  ASSERT_TRUE(send_all(fd, "POST http://" + host + "/p HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 2\r\n\r\nhi"));
  auto p = read_http_response(fd);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 502) << p->head << p->body;
  EXPECT_EQ(origin.connections_accepted(), 3u);
}

TEST(HttpFrontend, IdlePooledConnectionsAreClosedAfterTheTimeout) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config({{"http", {{"pool", {{"idle_timeout", 0.5}}}}}}));
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  std::this_thread::sleep_for(1500ms);
  auto s = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(s.ok()) << s.describe();
  EXPECT_EQ(origin.connections_accepted(), 2u);
}

TEST(HttpFrontend, EarlyResponseBeforeTheBodyEndsTheExchange) {
  ScriptedOrigin origin([](const OriginRequest&) {
    OriginAction a;
    a.response = "HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n";
    a.skip_body = true;
    a.close_after = true;
    return a;
  });
  HopgateProcess hg(proxy_config());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  ASSERT_TRUE(send_all(fd, "POST " + origin.url("/up") + " HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n"));
  ASSERT_TRUE(send_all(fd, std::string(100000, 'x')));
  auto r = read_http_response(fd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, "too big\n");
  EXPECT_EQ(lower(header_of(r->head, "Connection")), "close");
  EXPECT_TRUE(wait_closed(fd, 5s));
  auto after = run_curl({"-x", proxy_url(hg), "-w", "%{http_code}", "-o", "/dev/null", origin.url("/again")});
  EXPECT_EQ(after.out, "413");
}

// ---------------------------------------------------------------------------------------------
// Deadlines and draining

TEST(HttpFrontend, IdleKeepAliveClientIsClosedAfterTheTimeout) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config({{"timeouts", {{"http_keepalive", 0.5}}}}));
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  ASSERT_TRUE(send_all(fd, "GET " + origin.url("/hello") + " HTTP/1.1\r\n\r\n"));
  auto r = read_http_response(fd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_closed(fd, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

TEST(HttpFrontend, SlowRequestHeadIs408) {
  HopgateProcess hg(proxy_config({{"timeouts", {{"http_request", 0.5}}}}));
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  ASSERT_TRUE(send_all(fd, "GET http://example.test/ HTTP/1.1\r\nHost: exa"));
  auto r = read_http_response(fd, false, 5s);
  ASSERT_TRUE(r) << "no reply to a stalled head";
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(wait_closed(fd, 5s));
}

TEST(HttpFrontend, DrainingClosesIdleKeepAliveClients) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  ASSERT_TRUE(send_all(fd, "GET " + origin.url("/hello") + " HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(read_http_response(fd));
  auto started = std::chrono::steady_clock::now();
  auto st = hg.stop();
  EXPECT_TRUE(st.clean()) << st.describe();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "an idle keep-alive client held up the shutdown";
  EXPECT_TRUE(wait_closed(fd, 2s));
}

// ---------------------------------------------------------------------------------------------
// Header rules

TEST(HttpFrontend, HopByHopHeadersAreStripped) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  auto r = run_curl({"-x", proxy_url(hg), "--proxy-user", "someone:pw", "-H", "Connection: X-Secret", "-H", "X-Secret: 1",
                     "-H", "Keep-Alive: timeout=5", "-H", "TE: trailers", "-H", "Upgrade: h2c", "-H", "Proxy-Connection: keep-alive",
                     "-H", "Trailer: X-Sum", "-H", "X-End-To-End: yes", origin.url("/headers")});
  ASSERT_TRUE(r.ok()) << r.describe();
  const auto& head = r.out;
  EXPECT_TRUE(head.starts_with("GET /headers HTTP/1.1\r\n")) << head;
  EXPECT_TRUE(contains(head, "\r\nHost: " + origin_authority(origin.port()) + "\r\n")) << head;
  EXPECT_TRUE(contains(head, "\r\nVia: 1.1 hopgate\r\n")) << head;
  EXPECT_TRUE(contains(head, "\r\nX-End-To-End: yes\r\n")) << head;
  for (const char* gone : {"X-Secret", "Keep-Alive", "TE:", "Upgrade", "Proxy-Connection", "Proxy-Authorization", "Trailer",
                           "Connection:", "X-Forwarded-For"})
    EXPECT_FALSE(contains(lower(head), lower(gone))) << gone << " reached the origin:\n" << head;
}

TEST(HttpFrontend, ViaOffAndForwardedForOn) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config({{"http", {{"via", ""}, {"x_forwarded_for", true}}}}));
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/headers")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_FALSE(contains(r.out, "Via:")) << r.out;
  EXPECT_TRUE(contains(r.out, "\r\nX-Forwarded-For: 127.0.0.1\r\n")) << r.out;
}

TEST(HttpFrontend, ResponseCarriesViaAndNoHopByHop) {
  ScriptedOrigin origin([](const OriginRequest&) {
    OriginAction a;
    a.response = "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=9\r\nContent-Length: 2\r\n\r\nok";
    return a;
  });
  HopgateProcess hg(proxy_config());
  auto r = raw_exchange(hg, "GET " + origin.url("/") + " HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(header_of(r->head, "Via"), "1.1 hopgate");
  EXPECT_EQ(header_of(r->head, "X-Private"), "");
  EXPECT_EQ(header_of(r->head, "Keep-Alive"), "");
}

// ---------------------------------------------------------------------------------------------
// CONNECT

TEST(HttpFrontend, ConnectWithCurl) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  auto r = run_curl({"-p", "-v", "-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n");
  EXPECT_TRUE(contains(r.err, "200 Connection established")) << r.err;
}

TEST(HttpFrontend, ConnectForwardsBytesSentWithTheHead) {
  TcpEcho echo(ListenOptions{.ipv4 = true, .ipv6 = true});
  HopgateProcess hg(proxy_config());
  for (std::string host : {std::string("127.0.0.1"), std::string("[::1]"), std::string("localhost")}) {
    SCOPED_TRACE(host);
    Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
    std::string authority = host + ":" + std::to_string(echo.port());
    // The head and the first tunnel bytes in one segment: those bytes must not be lost.
    ASSERT_TRUE(send_all(fd, "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\nearly bytes"));
    std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    auto head = recv_exact(fd, established.size());
    ASSERT_TRUE(head);
    EXPECT_EQ(text(*head), established);
    auto early = recv_exact(fd, 11);
    ASSERT_TRUE(early);
    EXPECT_EQ(text(*early), "early bytes");
    auto data = deterministic_bytes(5, 100000);
    ASSERT_TRUE(send_all(fd, data));
    shutdown_write(fd);
    auto rest = recv_until_close(fd, 10s);
    EXPECT_TRUE(rest.closed);
    EXPECT_TRUE(rest.data == data);
  }
}

TEST(HttpFrontend, ConnectAfterKeptAliveRequestsIsLoggedWithTheirCount) {
  HttpOrigin origin;
  TcpEcho echo(ListenOptions{.ipv4 = true});
  HopgateProcess hg(proxy_config());
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  std::string host = "127.0.0.1:" + std::to_string(origin.port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(send_all(fd, "GET http://" + host + "/hello HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
    auto r = read_http_response(fd);
    ASSERT_TRUE(r) << hg.log();
    EXPECT_EQ(r->status, 200);
  }
  // The third request on the connection opens a tunnel; its access-log line counts all three.
  std::string authority = "127.0.0.1:" + std::to_string(echo.port());
  ASSERT_TRUE(send_all(fd, "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
  std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
  auto head = recv_exact(fd, established.size());
  ASSERT_TRUE(head);
  EXPECT_EQ(text(*head), established);
  ASSERT_TRUE(send_all(fd, "ping"));
  auto echoed = recv_exact(fd, 4);
  ASSERT_TRUE(echoed);
  EXPECT_EQ(text(*echoed), "ping");
  shutdown_write(fd);
  EXPECT_TRUE(recv_until_close(fd, 10s).closed);
  EXPECT_TRUE(eventually([&] { return contains(hg.log(), "target=" + authority) && contains(hg.log(), "ok (3 requests)"); }))
      << hg.log();
}

// ---------------------------------------------------------------------------------------------
// Proxy authentication

json auth_config() {
  return proxy_config({{"listeners", {{"http", {{"listen", {"127.0.0.1:0"}}, {"auth", "password"}}}}},
                       {"users", {{{"name", "alice"}, {"password", "s3cret:x"}}}}});
}

TEST(HttpFrontend, ProxyAuthentication) {
  HttpOrigin origin;
  HopgateProcess hg(auth_config());
  auto ok = run_curl({"-x", proxy_url(hg), "--proxy-user", "alice:s3cret:x", origin.url("/headers")});
  ASSERT_TRUE(ok.ok()) << ok.describe();
  EXPECT_FALSE(contains(ok.out, "Proxy-Authorization")) << ok.out; // credentials stay at the proxy
  auto tunnel = run_curl({"-p", "-x", proxy_url(hg), "--proxy-user", "alice:s3cret:x", origin.url("/hello")});
  ASSERT_TRUE(tunnel.ok()) << tunnel.describe();
  EXPECT_EQ(tunnel.out, "hello from origin\n");

  for (auto creds : {std::optional<std::string>{}, std::optional<std::string>{"alice:wrong"},
                     std::optional<std::string>{"bob:s3cret:x"}}) {
    SCOPED_TRACE(creds ? *creds : "(none)");
    std::vector<std::string> args{"-x", proxy_url(hg), "-i", origin.url("/hello")};
    if (creds) args.insert(args.begin(), {"--proxy-user", *creds});
    auto r = run_curl(args);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(r.out.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n")) << r.out;
    EXPECT_TRUE(contains(r.out, "Proxy-Authenticate: Basic realm=\"hopgate\"\r\n")) << r.out;
  }
  // A raw CONNECT without credentials: 407 too, and the connection stays usable.
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  std::string authority = origin_authority(origin.port());
  ASSERT_TRUE(send_all(fd, "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"));
  auto r = read_http_response(fd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 407);
  ASSERT_TRUE(send_all(fd, "GET http://" + authority + "/hello HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0Ong=\r\n\r\n"));
  r = read_http_response(fd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello from origin\n");
}

// ---------------------------------------------------------------------------------------------
// Errors in the proxy's own voice

TEST(HttpFrontendErrors, OriginFormAndGarbageAre400) {
  HopgateProcess hg(proxy_config());
  auto r = raw_exchange(hg, "GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(contains(r->body, "origin-form")) << r->body;
  EXPECT_FALSE(header_of(r->head, "Content-Length").empty());

  for (std::string bad : {"BLAH\r\n\r\n", "GET http://x/ HTTP/1.1\r\nBad Header\r\n\r\n", "GET http://u:p@x/ HTTP/1.1\r\n\r\n",
                          "GET http://x:99999/ HTTP/1.1\r\n\r\n", "CONNECT example.com HTTP/1.1\r\n\r\n"}) {
    SCOPED_TRACE(bad);
    auto e = raw_exchange(hg, bad);
    ASSERT_TRUE(e) << "empty reply";
    EXPECT_EQ(e->status, 400) << e->head;
    EXPECT_TRUE(e->body.starts_with("400 Bad Request")) << e->body;
  }
  auto h = raw_exchange(hg, "GET https://example.com/ HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 501);
}

TEST(HttpFrontendErrors, SmugglingAttemptsAre400) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  std::string target = origin.url("/echo");
  for (std::string framing : {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                              "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                              "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
                              "Content-Length: 5\r\nContent-Length: 6\r\n",
                              "Transfer-Encoding: chunked, identity\r\n"}) {
    SCOPED_TRACE(framing);
    auto r = raw_exchange(hg, "POST " + target + " HTTP/1.1\r\nHost: x\r\n" + framing + "\r\n0\r\n\r\nhello");
    ASSERT_TRUE(r) << "empty reply";
    EXPECT_EQ(r->status, 400) << r->head << r->body;
    EXPECT_EQ(lower(header_of(r->head, "Connection")), "close");
  }
  EXPECT_EQ(origin.requests(), 0u);
}

TEST(HttpFrontendErrors, BlockedRouteIs403NamingTheRule) {
  HopgateProcess hg(proxy_config({{"routes", {{{"name", "no-ads"}, {"match", {{"domain", {"ads.example"}}}}, {"via", "block"}}}}}));
  auto r = raw_exchange(hg, "GET http://ads.example/banner HTTP/1.1\r\nHost: ads.example\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_TRUE(contains(r->body, "no-ads")) << r->body;
  auto c = raw_exchange(hg, "CONNECT ads.example:443 HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 403);
  EXPECT_TRUE(contains(c->body, "no-ads")) << c->body;
}

TEST(HttpFrontendErrors, RequestToTheProxyItselfIsRefused) {
  HopgateProcess hg(proxy_config());
  // An absolute URI that points back at hopgate's own port would loop; so would a kept-alive
  // connection that asked for somewhere else first.
  Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
  ASSERT_TRUE(send_all(fd, "GET http://" + hg.address("http") + "/ HTTP/1.1\r\n\r\n"));
  auto r = read_http_response(fd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_TRUE(contains(r->body, "own listener")) << r->body;
  auto c = raw_exchange(hg, "CONNECT " + hg.address("http") + " HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 403) << c->body;
}

TEST(HttpFrontendErrors, HugeHeaderIs431) {
  HopgateProcess hg(proxy_config());
  std::string big(70 * 1024, 'a');
  auto r = raw_exchange(hg, "GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
  ASSERT_TRUE(r) << "empty reply";
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(lower(header_of(r->head, "Connection")), "close");
  // Just under the limit is fine (it reaches the dial, which fails: 502).
  std::string fits(60 * 1024, 'b');
  auto ok = raw_exchange(hg, "GET http://127.0.0.1:" + std::to_string(free_tcp_port()) + "/ HTTP/1.1\r\nX-Fits: " + fits + "\r\n\r\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 502);
}

TEST(HttpFrontendErrors, ClosedPortIs502WithTheReason) {
  HopgateProcess hg(proxy_config());
  auto port = free_tcp_port();
  auto r = raw_exchange(hg, "GET http://127.0.0.1:" + std::to_string(port) + "/ HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_TRUE(contains(r->body, "connection refused")) << r->body;
  auto c = raw_exchange(hg, "CONNECT 127.0.0.1:" + std::to_string(port) + " HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 502);
  EXPECT_TRUE(contains(c->body, "connection refused")) << c->body;
  auto curl = run_curl({"-x", proxy_url(hg), "-w", "%{http_code}", "-o", "/dev/null", "http://127.0.0.1:" + std::to_string(port) + "/"});
  EXPECT_EQ(curl.out, "502");
}

TEST(HttpFrontendErrors, HopTimeoutIs504AndUnresolvableIs502) {
  SilentServer silent;
  HopgateProcess hg(proxy_config(
      {{"upstreams", {{"stuck", {{"url", "socks5h://127.0.0.1:" + std::to_string(silent.port())}, {"connect_timeout", 0.5}}}}},
       {"routes", {{{"match", {{"domain", {"*.stuck.test"}}}}, {"via", "stuck"}}}}}));
  auto r = raw_exchange(hg, "GET http://a.stuck.test/ HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_TRUE(contains(r->body, "upstream stuck")) << r->body;
  auto c = raw_exchange(hg, "CONNECT a.stuck.test:443 HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 504);
  auto n = raw_exchange(hg, "GET http://no-such-host.invalid/ HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->status, 502);
}

TEST(HttpFrontendErrors, ClientDisconnectMidResponseLeavesTheProxyServing) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  for (int i = 0; i < 3; ++i) {
    Fd fd = connect_tcp("127.0.0.1", hg.port("http"));
    ASSERT_TRUE(send_all(fd, "GET " + origin.url("/bytes/300000000") + " HTTP/1.1\r\n\r\n"));
    auto some = recv_exact(fd, 1 << 20, 10s);
    ASSERT_TRUE(some);
    fd.reset(); // gone with unread data in flight
  }
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n");
  EXPECT_TRUE(hg.running());
}

// ---------------------------------------------------------------------------------------------
// Through upstream proxies

TEST(HttpFrontendUpstreams, ThroughTinyproxyParent) {
  HttpOrigin origin;
  Tinyproxy tiny;
  HopgateProcess hg(proxy_config({{"upstreams", {{"tiny", "http://" + tiny.address()}}}, {"default", {{"via", "tiny"}}}}));
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/headers")});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << tiny.log();
  EXPECT_TRUE(contains(r.out, "hopgate")) << r.out; // our Via went through the parent
  auto post = run_curl({"-x", proxy_url(hg), "--data-binary", "payload", origin.url("/echo")});
  ASSERT_TRUE(post.ok()) << post.describe();
  EXPECT_EQ(post.out, "payload");
  auto tunnel = run_curl({"-p", "-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(tunnel.ok()) << tunnel.describe();
  EXPECT_EQ(tunnel.out, "hello from origin\n");
}

TEST(HttpFrontendUpstreams, TinyproxyParentWithCredentials) {
  HttpOrigin origin;
  Tinyproxy tiny(Credentials{"tp", "pw"});
  HopgateProcess hg(proxy_config({{"upstreams", {{"good", "http://tp:pw@" + tiny.address()}, {"bad", "http://tp:nope@" + tiny.address()}}},
                                  {"routes", {{{"match", {{"port", {std::to_string(origin.port())}}}}, {"via", "good"}}}},
                                  {"default", {{"via", "bad"}}}}));
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe() << "\n" << tiny.log();
  EXPECT_EQ(r.out, "hello from origin\n");
  auto tunnel = run_curl({"-p", "-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(tunnel.ok()) << tunnel.describe();
  EXPECT_EQ(tunnel.out, "hello from origin\n");
  // Wrong credentials: Tinyproxy answers "401 Unauthorized" with WWW-Authenticate (not 407) to
  // absolute-form requests; that is the parent's own answer and goes to the client as such.
  HttpOrigin other;
  auto bad = raw_exchange(hg, "GET " + other.url("/hello") + " HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  auto bad_tunnel = raw_exchange(hg, "CONNECT " + origin_authority(other.port()) + " HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(bad_tunnel);
  EXPECT_EQ(bad_tunnel->status, 502);
  EXPECT_TRUE(contains(bad_tunnel->body, "upstream bad")) << bad_tunnel->body;
}

TEST(HttpFrontendUpstreams, ParentGetsAbsoluteFormAndCredentials) {
  // A scripted parent proxy: checks what hopgate sends it, and refuses with 407 on request.
  std::atomic<bool> refuse{false};
  std::string seen;
  std::mutex seen_mutex;
  ScriptedOrigin parent([&](const OriginRequest& req) {
    {
      std::lock_guard lock(seen_mutex);
      seen = req.head;
    }
    OriginAction a;
    if (refuse) a.response = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n\r\n";
    else a.response = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nparent";
    return a;
  });
  HopgateProcess hg(proxy_config({{"upstreams", {{"par", "http://u:p@127.0.0.1:" + std::to_string(parent.port())}}},
                                  {"default", {{"via", "par"}}}}));
  auto r = run_curl({"-x", proxy_url(hg), "http://example.test:8080/a?b=1"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "parent");
  {
    std::lock_guard lock(seen_mutex);
    EXPECT_TRUE(seen.starts_with("GET http://example.test:8080/a?b=1 HTTP/1.1\r\n")) << seen;
    EXPECT_TRUE(contains(seen, "\r\nHost: example.test:8080\r\n")) << seen;
    EXPECT_TRUE(contains(seen, "\r\nProxy-Authorization: Basic dTpw\r\n")) << seen;
  }
  refuse = true;
  auto bad = raw_exchange(hg, "GET http://example.test/ HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 502);
  EXPECT_TRUE(contains(bad->body, "upstream par")) << bad->body;
  EXPECT_TRUE(contains(bad->body, "407")) << bad->body;
  EXPECT_EQ(header_of(bad->head, "Proxy-Authenticate"), ""); // the parent's challenge is not the client's business
}

TEST(HttpFrontendUpstreams, ThroughMicrosocks) {
  HttpOrigin origin;
  Microsocks ms;
  HopgateProcess hg(proxy_config({{"upstreams", {{"ms", "socks5h://" + ms.address()}}}, {"default", {{"via", "ms"}}}}));
  auto url = origin.url("/hello");
  auto r = run_curl({"-x", proxy_url(hg), url, url, url});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\nhello from origin\nhello from origin\n");
  EXPECT_EQ(origin.connections_accepted(), 1u); // pooled through the SOCKS hop too
}

TEST(HttpFrontendUpstreams, ChainOfMicrosocksThenTinyproxy) {
  HttpOrigin origin;
  Microsocks ms;
  Tinyproxy tiny;
  HopgateProcess hg(proxy_config({{"upstreams", {{"ms", "socks5h://" + ms.address()}, {"tiny", "http://" + tiny.address()}}},
                                  {"default", {{"via", {"ms", "tiny"}}}}}));
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n");
}

TEST(HttpFrontendUpstreams, MixedPortServesHttpAndSocks) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config({{"listeners", {{"http", {{"listen", {"127.0.0.1:0"}}, {"protocols", {"http", "socks"}}}}}}}));
  auto h = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(h.ok()) << h.describe();
  EXPECT_EQ(h.out, "hello from origin\n");
  auto s = run_curl({"--socks5-hostname", hg.address("http"), origin.url("/hello")});
  ASSERT_TRUE(s.ok()) << s.describe();
  EXPECT_EQ(s.out, "hello from origin\n");
  auto c = run_curl({"-p", "-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(c.ok()) << c.describe();
}

// ---------------------------------------------------------------------------------------------
// Large transfers, checked by digest

void download_and_check(const std::vector<std::string>& args, std::uint64_t size) {
  Sha256 h;
  std::uint64_t got = 0;
  auto r = run_curl_stream(args, 240s, [&](std::span<const std::uint8_t> piece) {
    h.update(piece);
    got += piece.size();
  });
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(got, size);
  EXPECT_EQ(h.hex_final(), deterministic_sha256(kOriginBytesSeed, size));
}

TEST(HttpFrontendLarge, Download256MiBAbsoluteUri) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  constexpr std::uint64_t size = 256ull << 20;
  download_and_check({"-x", proxy_url(hg), origin.url("/bytes/" + std::to_string(size))}, size);
}

TEST(HttpFrontendLarge, Download256MiBConnect) {
  HttpOrigin origin;
  HopgateProcess hg(proxy_config());
  constexpr std::uint64_t size = 256ull << 20;
  download_and_check({"-p", "-x", proxy_url(hg), origin.url("/bytes/" + std::to_string(size))}, size);
}

} // namespace
