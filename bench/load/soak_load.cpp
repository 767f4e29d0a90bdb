// Soak load generator for bench/soak.sh: churns many short connections through a running
// hopgate, mixed SOCKS5 / SOCKS4 / HTTP CONNECT / HTTP absolute-URI, with clients that vanish
// mid-handshake and mid-transfer (reset) and upstreams that refuse; checks every completed
// transfer byte for byte (FNV-1a of what was sent against what came back).
//
// It runs its own upstreams on 127.0.0.1: an echo server that echoes exactly the announced
// length and then closes first (no TIME_WAIT left on hopgate's ephemeral ports), an HTTP origin
// serving /bytes/N?seed=S, and a port where nothing listens.
//
// Usage: soak_load --socks 127.0.0.1:P --http 127.0.0.1:P [--connections 100000]
//                  [--concurrency 200] [--seed 1] [--max-bytes 65536]
// Exit 0 when no checksum mismatched and unexpected failures stayed under 0.5 %.
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <sys/resource.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using boost::system::error_code;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::uint64_t fnv(std::uint64_t h, const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}
constexpr std::uint64_t fnv_init = 0xcbf29ce484222325ULL;

/// The bytes of /bytes/N?seed=S and of what clients send: xorshift64*, one byte at a time.
struct Stream {
  std::uint64_t s;
  explicit Stream(std::uint64_t seed) : s(seed ? seed : 1) {}
  std::uint8_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return static_cast<std::uint8_t>((s * 0x2545F4914F6CDD1DULL) >> 56);
  }
  void fill(std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) p[i] = next();
  }
};

tcp::endpoint parse_ep(const std::string& s) {
  auto colon = s.rfind(':');
  return {asio::ip::make_address(s.substr(0, colon)), static_cast<std::uint16_t>(std::stoi(s.substr(colon + 1)))};
}

struct Counters {
  std::map<std::string, std::uint64_t> by_kind_ok, by_kind_fail;
  std::uint64_t completed = 0, mismatched = 0, vanished = 0, refused_ok = 0, failed = 0;
  std::uint64_t bytes = 0;
  std::map<std::string, std::uint64_t> fail_reasons;
  void fail(const std::string& kind, const std::string& why) {
    ++failed;
    ++by_kind_fail[kind];
    if (fail_reasons.size() < 50 || fail_reasons.count(kind + ": " + why)) ++fail_reasons[kind + ": " + why];
  }
};

// ---- upstreams -------------------------------------------------------------------------------

awaitable<void> echo_session(tcp::socket s) {
  // 8-byte big-endian length, then that many bytes, echoed as they come; then we close first.
  std::array<std::uint8_t, 8> hdr;
  auto [ec, n] = co_await asio::async_read(s, asio::buffer(hdr), nothrow);
  if (ec) co_return;
  std::uint64_t left = 0;
  for (auto b : hdr) left = left << 8 | b;
  std::vector<std::uint8_t> buf(16384);
  while (left > 0) {
    auto [rec, got] = co_await s.async_read_some(asio::buffer(buf.data(), std::min<std::uint64_t>(buf.size(), left)), nothrow);
    if (rec) co_return;
    auto [wec, put] = co_await asio::async_write(s, asio::buffer(buf.data(), got), nothrow);
    if (wec) co_return;
    left -= got;
  }
  error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
  // Wait for the client's FIN so the close is orderly, briefly.
  asio::steady_timer t(s.get_executor(), 5s);
  co_await (s.async_read_some(asio::buffer(buf), nothrow) || t.async_wait(nothrow));
}

awaitable<void> origin_session(tcp::socket s) {
  std::string in;
  std::array<char, 4096> chunk;
  for (;;) {
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), nothrow);
      if (ec) co_return;
      in.append(chunk.data(), n);
      if (in.size() > 65536) co_return;
    }
    std::string head = in.substr(0, end);
    in.erase(0, end + 4);
    // GET /bytes/N?seed=S HTTP/1.1
    std::size_t n = 0;
    std::uint64_t seed = 1;
    if (auto p = head.find("/bytes/"); p != std::string::npos) n = std::strtoull(head.c_str() + p + 7, nullptr, 10);
    if (auto p = head.find("seed="); p != std::string::npos) seed = std::strtoull(head.c_str() + p + 5, nullptr, 10);
    bool close = head.find("Connection: close") != std::string::npos || head.find("connection: close") != std::string::npos;
    std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + std::to_string(n) +
                       (close ? "\r\nConnection: close" : "") + "\r\n\r\n";
    std::vector<std::uint8_t> body(n);
    Stream(seed).fill(body.data(), n);
    std::array<asio::const_buffer, 2> bufs{asio::buffer(resp), asio::buffer(body)};
    auto [wec, w] = co_await asio::async_write(s, bufs, nothrow);
    if (wec || close) co_return;
  }
}

template <class Session> awaitable<void> serve(tcp::acceptor& a, Session session) {
  for (;;) {
    auto [ec, s] = co_await a.async_accept(nothrow);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      asio::steady_timer t(a.get_executor(), 10ms);
      co_await t.async_wait(nothrow);
      continue;
    }
    asio::co_spawn(a.get_executor(), session(std::move(s)), asio::detached);
  }
}

// ---- clients ---------------------------------------------------------------------------------

struct Plan {
  enum Kind { socks5_echo, socks4_echo, connect_echo, http_get, socks5_refused, connect_refused, vanish_handshake, vanish_transfer };
  Kind kind;
  std::size_t bytes;
  std::uint64_t seed;
};

const char* name_of(Plan::Kind k) {
  switch (k) {
  case Plan::socks5_echo: return "socks5-echo";
  case Plan::socks4_echo: return "socks4-echo";
  case Plan::connect_echo: return "http-connect-echo";
  case Plan::http_get: return "http-get";
  case Plan::socks5_refused: return "socks5-refused";
  case Plan::connect_refused: return "http-connect-refused";
  case Plan::vanish_handshake: return "vanish-handshake";
  case Plan::vanish_transfer: return "vanish-transfer";
  }
  return "?";
}

struct Env {
  tcp::endpoint socks, http;
  std::vector<std::uint16_t> echo_ports;
  std::uint16_t origin_port = 0, dead_port = 0;
  Counters c;
};

void reset_close(tcp::socket& s) {
  error_code ignored;
  s.set_option(asio::socket_base::linger(true, 0), ignored);
  s.close(ignored);
}

/// Reads up to "\r\n\r\n"; returns the status code, keeps extra bytes in `rest`.
awaitable<int> read_http_head(tcp::socket& s, std::string& rest) {
  std::array<char, 2048> chunk;
  for (;;) {
    if (auto end = rest.find("\r\n\r\n"); end != std::string::npos) {
      int status = rest.size() > 12 ? std::atoi(rest.c_str() + 9) : -1;
      rest.erase(0, end + 4);
      co_return status;
    }
    auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), nothrow);
    if (ec) co_return -1;
    rest.append(chunk.data(), n);
  }
}

/// The echo protocol over an established tunnel: send length + bytes, read them back, compare.
/// `vanish`: reset half way instead.
awaitable<std::string> echo_exchange(tcp::socket& s, std::size_t n, std::uint64_t seed, bool vanish, Env& env,
                                     std::string pending = {}) {
  std::vector<std::uint8_t> out(8 + n);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(std::uint64_t(n) >> (56 - 8 * i));
  Stream(seed).fill(out.data() + 8, n);
  std::uint64_t want = fnv(fnv_init, out.data() + 8, n);
  std::size_t send_n = vanish ? 8 + n / 2 : out.size();
  std::uint64_t got_hash = fnv_init;
  std::size_t got = 0;
  if (!pending.empty()) {
    got_hash = fnv(got_hash, reinterpret_cast<const std::uint8_t*>(pending.data()), pending.size());
    got += pending.size();
  }
  auto writer = [&]() -> awaitable<bool> {
    auto [ec, w] = co_await asio::async_write(s, asio::buffer(out.data(), send_n), nothrow);
    co_return !ec;
  };
  auto reader = [&]() -> awaitable<bool> {
    std::vector<std::uint8_t> buf(16384);
    std::size_t until = vanish ? n / 4 : n;
    while (got < until) {
      auto [ec, r] = co_await s.async_read_some(asio::buffer(buf), nothrow);
      if (ec) co_return false;
      got_hash = fnv(got_hash, buf.data(), r);
      got += r;
    }
    if (vanish) co_return true;
    // Then the upstream's close comes through as EOF.
    auto [ec, r] = co_await s.async_read_some(asio::buffer(buf), nothrow);
    co_return ec == asio::error::eof && r == 0;
  };
  auto [wrote, read] = co_await (writer() && reader());
  if (vanish) {
    reset_close(s);
    ++env.c.vanished;
    co_return "";
  }
  if (!wrote) co_return "write failed";
  if (!read) co_return got < n ? "short echo (" + std::to_string(got) + " of " + std::to_string(n) + ")" : "no EOF after echo";
  if (got != n || got_hash != want) {
    ++env.c.mismatched;
    co_return "CHECKSUM MISMATCH";
  }
  env.c.bytes += 2 * n;
  co_return "";
}

awaitable<std::string> socks5_open(tcp::socket& s, const std::string& ip, std::uint16_t port, int& rep) {
  std::array<std::uint8_t, 3> greet{5, 1, 0};
  auto [e1, w1] = co_await asio::async_write(s, asio::buffer(greet), nothrow);
  if (e1) co_return "greeting write";
  std::array<std::uint8_t, 2> sel;
  auto [e2, r2] = co_await asio::async_read(s, asio::buffer(sel), nothrow);
  if (e2 || sel[1] != 0) co_return "method selection";
  auto a = asio::ip::make_address_v4(ip).to_bytes();
  std::array<std::uint8_t, 10> req{5, 1, 0, 1, a[0], a[1], a[2], a[3], static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
  auto [e3, w3] = co_await asio::async_write(s, asio::buffer(req), nothrow);
  if (e3) co_return "request write";
  std::array<std::uint8_t, 10> reply;
  auto [e4, r4] = co_await asio::async_read(s, asio::buffer(reply), nothrow);
  if (e4) co_return "reply read: " + e4.message();
  rep = reply[1];
  co_return "";
}

awaitable<std::string> run_one(Env& env, Plan plan) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  bool http_front = plan.kind == Plan::connect_echo || plan.kind == Plan::http_get || plan.kind == Plan::connect_refused ||
                    (plan.kind == Plan::vanish_handshake && plan.seed % 2);
  auto [cec] = co_await s.async_connect(http_front ? env.http : env.socks, nothrow);
  if (cec) co_return "connect to hopgate: " + cec.message();
  s.set_option(tcp::no_delay(true));
  auto echo_port = env.echo_ports[plan.seed % env.echo_ports.size()];
  switch (plan.kind) {
  case Plan::vanish_handshake: {
    std::string partial = http_front ? std::string("GET http://127.0.0.1/ HT") : std::string("\x05\x02\x00", 3);
    auto [ec, w] = co_await asio::async_write(s, asio::buffer(partial), nothrow);
    (void)ec;
    reset_close(s);
    ++env.c.vanished;
    co_return "";
  }
  case Plan::socks5_echo:
  case Plan::vanish_transfer:
  case Plan::socks5_refused: {
    int rep = -1;
    auto port = plan.kind == Plan::socks5_refused ? env.dead_port : echo_port;
    if (auto e = co_await socks5_open(s, "127.0.0.1", port, rep); !e.empty()) co_return e;
    if (plan.kind == Plan::socks5_refused) {
      if (rep == 0) co_return "refused upstream answered 0x00";
      ++env.c.refused_ok;
      co_return "";
    }
    if (rep != 0) co_return "socks5 reply " + std::to_string(rep);
    co_return co_await echo_exchange(s, plan.bytes, plan.seed, plan.kind == Plan::vanish_transfer, env);
  }
  case Plan::socks4_echo: {
    std::array<std::uint8_t, 9> req{4, 1, static_cast<std::uint8_t>(echo_port >> 8), static_cast<std::uint8_t>(echo_port), 127, 0, 0, 1, 0};
    auto [e1, w1] = co_await asio::async_write(s, asio::buffer(req), nothrow);
    if (e1) co_return "socks4 write";
    std::array<std::uint8_t, 8> reply;
    auto [e2, r2] = co_await asio::async_read(s, asio::buffer(reply), nothrow);
    if (e2) co_return "socks4 reply read";
    if (reply[1] != 0x5A) co_return "socks4 reply " + std::to_string(reply[1]);
    co_return co_await echo_exchange(s, plan.bytes, plan.seed, false, env);
  }
  case Plan::connect_echo:
  case Plan::connect_refused: {
    auto port = plan.kind == Plan::connect_refused ? env.dead_port : echo_port;
    std::string req = "CONNECT 127.0.0.1:" + std::to_string(port) + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
    auto [e1, w1] = co_await asio::async_write(s, asio::buffer(req), nothrow);
    if (e1) co_return "CONNECT write";
    std::string rest;
    int status = co_await read_http_head(s, rest);
    if (plan.kind == Plan::connect_refused) {
      if (status < 500) co_return "refused CONNECT got " + std::to_string(status);
      ++env.c.refused_ok;
      co_return "";
    }
    if (status != 200) co_return "CONNECT status " + std::to_string(status);
    co_return co_await echo_exchange(s, plan.bytes, plan.seed, false, env, rest);
  }
  case Plan::http_get: {
    std::string url = "http://127.0.0.1:" + std::to_string(env.origin_port) + "/bytes/" + std::to_string(plan.bytes) +
                      "?seed=" + std::to_string(plan.seed);
    std::string req = "GET " + url + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(env.origin_port) + "\r\nConnection: close\r\n\r\n";
    auto [e1, w1] = co_await asio::async_write(s, asio::buffer(req), nothrow);
    if (e1) co_return "GET write";
    std::string body;
    int status = co_await read_http_head(s, body);
    if (status != 200) co_return "GET status " + std::to_string(status);
    std::array<char, 16384> chunk;
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), nothrow);
      if (ec) break;
      body.append(chunk.data(), n);
    }
    std::vector<std::uint8_t> want(plan.bytes);
    Stream(plan.seed).fill(want.data(), want.size());
    if (body.size() != want.size() || std::memcmp(body.data(), want.data(), want.size()) != 0) {
      ++env.c.mismatched;
      co_return "CHECKSUM MISMATCH (body " + std::to_string(body.size()) + " of " + std::to_string(want.size()) + ")";
    }
    env.c.bytes += plan.bytes;
    co_return "";
  }
  }
  co_return "?";
}

} // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[std::string(argv[i]).substr(2)] = argv[i + 1];
  if (!args.count("socks") || !args.count("http")) {
    std::fprintf(stderr, "usage: soak_load --socks HOST:PORT --http HOST:PORT [--connections N] [--concurrency C] [--seed S] [--max-bytes B]\n");
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  std::size_t total = args.count("connections") ? std::stoul(args["connections"]) : 100000;
  std::size_t concurrency = args.count("concurrency") ? std::stoul(args["concurrency"]) : 200;
  std::size_t max_bytes = args.count("max-bytes") ? std::stoul(args["max-bytes"]) : 65536;
  std::uint64_t seed = args.count("seed") ? std::stoull(args["seed"]) : 1;

  asio::io_context io(1);
  Env env;
  env.socks = parse_ep(args["socks"]);
  env.http = parse_ep(args["http"]);
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  auto listen = [&]() -> tcp::acceptor& {
    acceptors.push_back(std::make_unique<tcp::acceptor>(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)));
    return *acceptors.back();
  };
  for (int i = 0; i < 4; ++i) {
    auto& a = listen();
    env.echo_ports.push_back(a.local_endpoint().port());
    asio::co_spawn(io, serve(a, echo_session), asio::detached);
  }
  auto& origin = listen();
  env.origin_port = origin.local_endpoint().port();
  asio::co_spawn(io, serve(origin, origin_session), asio::detached);
  {
    tcp::acceptor dead(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    env.dead_port = dead.local_endpoint().port();
  } // closed: connections to it are refused

  std::mt19937_64 rng(seed);
  std::size_t next = 0, done = 0;
  auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  auto worker = [&]() -> awaitable<void> {
    while (next < total) {
      std::size_t i = next++;
      Plan p;
      auto roll = rng() % 100;
      p.kind = roll < 33   ? Plan::socks5_echo
               : roll < 43 ? Plan::socks4_echo
               : roll < 61 ? Plan::connect_echo
               : roll < 76 ? Plan::http_get
               : roll < 80 ? Plan::socks5_refused
               : roll < 84 ? Plan::connect_refused
               : roll < 92 ? Plan::vanish_handshake
                           : Plan::vanish_transfer;
      p.bytes = 1 + rng() % max_bytes;
      p.seed = (seed << 32) ^ (i + 1);
      asio::steady_timer deadline(co_await asio::this_coro::executor, 30s);
      auto r = co_await (run_one(env, p) || deadline.async_wait(nothrow));
      std::string why = r.index() == 0 ? std::get<0>(r) : std::string("no progress in 30 s");
      if (why.empty()) {
        ++env.c.completed;
        ++env.c.by_kind_ok[name_of(p.kind)];
      } else {
        env.c.fail(name_of(p.kind), why);
      }
      ++done;
      auto now = std::chrono::steady_clock::now();
      if (now - last_report > 10s) {
        last_report = now;
        std::printf("soak_load: %zu/%zu connections, %.0f/s, %llu failed, %llu mismatched\n", done, total,
                    done / std::chrono::duration<double>(now - started).count(), (unsigned long long)env.c.failed,
                    (unsigned long long)env.c.mismatched);
        std::fflush(stdout);
      }
    }
  };
  std::size_t running = concurrency;
  for (std::size_t w = 0; w < concurrency; ++w)
    asio::co_spawn(io, worker(), [&](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
      if (--running == 0)
        for (auto& a : acceptors) a->close();
    });
  io.run();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::printf("soak_load: %zu connections in %.1f s (%.0f/s), %llu MiB verified\n", done, secs, done / secs,
              (unsigned long long)(env.c.bytes >> 20));
  for (auto& [k, n] : env.c.by_kind_ok)
    std::printf("  %-22s ok %8llu  failed %6llu\n", k.c_str(), (unsigned long long)n, (unsigned long long)env.c.by_kind_fail[k]);
  std::printf("  vanished on purpose %llu, refused as expected %llu, checksum mismatches %llu, unexpected failures %llu\n",
              (unsigned long long)env.c.vanished, (unsigned long long)env.c.refused_ok, (unsigned long long)env.c.mismatched,
              (unsigned long long)env.c.failed);
  for (auto& [why, n] : env.c.fail_reasons) std::printf("  failure: %s x%llu\n", why.c_str(), (unsigned long long)n);
  bool ok = env.c.mismatched == 0 && env.c.failed * 200 <= done;
  std::printf("soak_load: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
