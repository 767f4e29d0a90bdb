// Limits: connections per client and in total (SOCKS 0x01 / 0x5B, HTTP 503, then close, never a
// hang), handshake and HTTP head timeouts closing silent clients, a slowloris crowd that does not
// stop a normal client, and accept surviving EMFILE.
#include "hardening_common.hpp"
#include "support/curl.hpp"
#include "support/eventually.hpp"
#include "support/origin.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"
#include "support/tools.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstdio>
#include <regex>

using namespace hopgate::test;
using namespace hopgate::test::hardening;
using nlohmann::json;

namespace {

json limits_config(std::size_t total, std::size_t per_client) {
  auto cfg = base_config();
  cfg["limits"] = {{"max_connections", total}, {"max_connections_per_client", per_client}};
  return cfg;
}

/// Polls `check` every 50 ms until it holds or `timeout` passes.
std::size_t open_connections(const HopgateProcess& hg) {
  auto r = admin_get(hg, "/api/v1/connections");
  if (r.status != 200) return SIZE_MAX;
  return json::parse(body_of(r))["total"].get<std::size_t>();
}

/// The over-limit answers of every protocol, from `source`.
void expect_over_limit_answers(const HopgateProcess& hg, const HttpOrigin& origin, const TcpEcho& echo,
                               const std::string& source) {
  Fd refused;
  EXPECT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), source, &refused), 0x01);
  if (refused) {
    EXPECT_TRUE(wait_closed(refused, 5s)) << "closed after the reply";
  }
  EXPECT_EQ(socks4_connect(hg.port("socks"), "127.0.0.1", echo.port(), source), 0x5B);
  auto get = http_exchange(hg.port("http"), "GET " + origin.url("/hello") + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", source);
  EXPECT_EQ(get.status, 503) << get.text;
  EXPECT_NE(get.text.find("Connection: close"), std::string::npos) << get.text;
  auto connect = http_exchange(hg.port("http"), "CONNECT 127.0.0.1:" + std::to_string(echo.port()) + " HTTP/1.1\r\nHost: x\r\n\r\n", source);
  EXPECT_EQ(connect.status, 503) << connect.text;
}

} // namespace

TEST(HardeningLimits, PerClientLimitIsAnsweredInEachProtocolAndFreedAtClose) {
  HttpOrigin origin;
  TcpEcho echo;
  HopgateProcess hg(limits_config(0, 2));

  Fd a, b;
  ASSERT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.5", &a), 0x00);
  ASSERT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.5", &b), 0x00);
  expect_over_limit_answers(hg, origin, echo, "127.0.0.5");

  // Another client is not affected by this one's limit.
  Fd other;
  EXPECT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.6", &other), 0x00);
  auto curl = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  EXPECT_TRUE(curl.ok()) << curl.describe();

  // The held tunnels still work; closing one frees its slot.
  ASSERT_TRUE(send_all(a, "abc"));
  EXPECT_EQ(recv_exact(a, 3), bytes_of("abc"));
  a.reset();
  EXPECT_TRUE(eventually([&] { return socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.5") == 0x00; }, 10s));
  EXPECT_NE(hg.log().find("over connection limit"), std::string::npos);
  EXPECT_TRUE(hg.running());
}

TEST(HardeningLimits, TotalLimitCountsEveryClient) {
  HttpOrigin origin;
  TcpEcho echo;
  HopgateProcess hg(limits_config(2, 0));
  Fd a, b;
  ASSERT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.7", &a), 0x00);
  ASSERT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.8", &b), 0x00);
  expect_over_limit_answers(hg, origin, echo, "127.0.0.9");
  b.reset();
  EXPECT_TRUE(eventually([&] {
    return run_curl({"-x", proxy_url(hg), origin.url("/hello")}, 10s).ok();
  }, 10s));
  EXPECT_TRUE(hg.running());
}

TEST(HardeningLimits, OverLimitClientThatSaysNothingIsClosedByTheHandshakeTimeout) {
  TcpEcho echo;
  auto cfg = limits_config(0, 1);
  cfg["timeouts"]["handshake"] = 1;
  HopgateProcess hg(cfg);
  Fd held;
  ASSERT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.10", &held), 0x00);
  for (const char* listener : {"socks", "http"}) {
    auto silent = connect_from("127.0.0.10", hg.port(listener));
    ASSERT_TRUE(silent);
    EXPECT_TRUE(wait_closed(silent, 6s)) << listener;
  }
}

TEST(HardeningTimeouts, HandshakeTimeoutClosesSilentAndSlowClients) {
  auto cfg = limits_config(0, 0);
  cfg["timeouts"] = {{"handshake", 1}, {"http_request", 1}};
  HopgateProcess hg(cfg);
  auto t0 = std::chrono::steady_clock::now();
  struct Case {
    const char* listener;
    std::string first_bytes;
  };
  std::vector<Case> cases{
      {"socks", ""},                                     // nothing at all
      {"socks", std::string("\x05", 1)},                 // half a greeting
      {"socks", std::string("\x05\x01\x00", 3)},         // a greeting, then no request
      {"socks", std::string("\x04\x01\x00\x50", 4)},     // half a SOCKS4 request
      {"http", ""},
      {"http", "GET http://example.com/ HTTP/1.1\r\n"},  // a head that never ends
  };
  std::vector<Fd> fds;
  for (auto& c : cases) {
    fds.push_back(connect_from("127.0.0.1", hg.port(c.listener)));
    ASSERT_TRUE(fds.back());
    if (!c.first_bytes.empty()) {
      ASSERT_TRUE(send_all(fds.back(), c.first_bytes));
    }
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    Bytes got;
    EXPECT_TRUE(wait_closed(fds[i], 8s, &got)) << cases[i].listener << " case " << i;
    if (i == 5) {
      std::string text(got.begin(), got.end());
      EXPECT_NE(text.find("408"), std::string::npos) << text;
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);
  EXPECT_NE(hg.log().find("handshake timeout"), std::string::npos);
  EXPECT_TRUE(hg.running());
}

// 1 000 connections that each send a byte a second (reconnecting when hopgate drops them at the
// handshake deadline) while a normal client fetches through the proxy: every fetch succeeds and
// the process stays up. Timing is reported, not asserted.
TEST(HardeningSlowloris, ThousandSlowClientsDoNotStopANormalOne) {
  raise_own_fd_limit();
  HttpOrigin origin;
  auto cfg = limits_config(0, 0);
  cfg["timeouts"] = {{"handshake", 2}, {"http_request", 2}};
  HopgateProcess hg(cfg);

  constexpr int kSlow = 1000;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> dropped{0}, opened{0};
  std::thread crowd([&] {
    std::vector<Fd> fds(kSlow);
    std::vector<std::size_t> sent(kSlow, 0);
    const std::string http_head = "GET " + origin.url("/hello") + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n";
    // A greeting, then a CONNECT to a 64-byte name: a whole request takes over a minute at this pace.
    const std::string socks_head = std::string("\x05\x01\x00\x05\x01\x00\x03\x40", 8) + std::string(64, 'a') + "\x00\x50";
    auto open = [&](int i) {
      // Half speak HTTP, half SOCKS; sources spread over 127.0.1.0/24.
      auto src = "127.0.1." + std::to_string(1 + i % 250);
      fds[i] = connect_from(src, hg.port(i % 2 ? "http" : "socks"), 2s);
      sent[i] = 0;
      if (fds[i]) ++opened;
    };
    for (int i = 0; i < kSlow && !stop; ++i) open(i);
    while (!stop) {
      for (int i = 0; i < kSlow && !stop; ++i) {
        if (!fds[i]) {
          open(i);
          continue;
        }
        const std::string& head = i % 2 ? http_head : socks_head;
        char c = head[sent[i] % head.size()];
        if (::send(fds[i].get(), &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1 && errno != EAGAIN) {
          ++dropped;
          open(i);
        } else {
          ++sent[i];
        }
      }
      for (int k = 0; k < 10 && !stop; ++k) std::this_thread::sleep_for(100ms);
    }
  });

  std::this_thread::sleep_for(3s); // the crowd is up and hopgate has started dropping them
  std::vector<double> took;
  for (int i = 0; i < 10; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = run_curl({"-x", proxy_url(hg), origin.url("/hello")}, 20s);
    took.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.out, "hello from origin\n");
    auto s = run_curl({"--socks5-hostname", "127.0.0.1:" + std::to_string(hg.port("socks")), origin.url("/hello")}, 20s);
    EXPECT_TRUE(s.ok()) << s.describe();
    std::this_thread::sleep_for(300ms);
  }
  stop = true;
  crowd.join();
  std::sort(took.begin(), took.end());
  std::printf("slowloris: %d slow connections (%llu opened, %llu dropped by hopgate and reopened); "
              "curl through the proxy: median %.1f ms, max %.1f ms (including curl's own start)\n",
              kSlow, static_cast<unsigned long long>(opened.load()), static_cast<unsigned long long>(dropped.load()),
              took[took.size() / 2], took.back());
  EXPECT_GT(dropped.load(), 0u) << "the handshake deadline dropped slow clients";
  ASSERT_TRUE(hg.running());
  EXPECT_TRUE(eventually([&] { return open_connections(hg) == 0; }, 15s)) << open_connections(hg);
}

// hopgate with 64 descriptors: more clients than that make accept() fail with EMFILE; the
// listener backs off, logs once, and serves again when the clients go.
TEST(HardeningFds, AcceptSurvivesRunningOutOfDescriptors) {
  require_tool("prlimit", "util-linux");
  raise_own_fd_limit();
  TcpEcho echo;
  TempDir dir("hopgate-emfile");
  auto cfg = json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}}, "default": {"via": "direct"},
                             "timeouts": {"handshake": 60}, "workers": 1})");
  auto file = dir.write_file("hopgate.json", cfg.dump());
  ChildProcess p({"prlimit", "--nofile=64:64", hopgate_binary(), "--config", file.string(), "--log-level", "debug"});
  auto m = p.wait_for_output(std::regex(R"(listening socks 127\.0\.0\.1:(\d+))"), 15s);
  ASSERT_TRUE(m) << p.output();
  auto port = static_cast<std::uint16_t>(std::stoi((*m)[1]));

  std::vector<Fd> crowd;
  for (int i = 0; i < 150; ++i) {
    auto fd = connect_from("127.0.0.1", port, 2s);
    if (fd) crowd.push_back(std::move(fd));
  }
  ASSERT_TRUE(p.wait_for_output("Too many open files", 10s)) << p.output();
  ASSERT_TRUE(p.running());
  crowd.clear();

  // Served again once the descriptors are back.
  bool served = false;
  for (int attempt = 0; attempt < 100 && !served; ++attempt) {
    Fd t;
    if (socks5_connect(port, "127.0.0.1", echo.port(), "127.0.0.1", &t) == 0x00 && send_all(t, "hi")) served = recv_exact(t, 2) == bytes_of("hi");
    if (!served) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(served) << p.output().substr(0, 3000);
  auto log = p.output();
  std::size_t lines = 0;
  for (auto at = log.find("backing off"); at != std::string::npos; at = log.find("backing off", at + 1)) ++lines;
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, 3u) << "one line per burst, not one per failed accept";
  auto st = p.stop(SIGTERM, 15s);
  EXPECT_TRUE(st.clean()) << st.describe();
}
