// Access control: per-listener allow/deny lists, the open-proxy refusal at start, per-route
// allow_ports, hopgate's own listeners as targets, deny_private_targets. Each refusal is shown in
// the client's protocol (or as a close for a client not let in), and the process keeps serving.
#include "hardening_common.hpp"
#include "support/curl.hpp"
#include "support/origin.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <nlohmann/json.hpp>

using namespace hopgate::test;
using namespace hopgate::test::hardening;
using nlohmann::json;

namespace {

/// Runs `hopgate --config FILE` and waits for it to exit on its own (a refused config).
struct StartResult {
  int exit_code = -1;
  std::string output;
};
StartResult start_expecting_exit(const json& cfg) {
  TempDir dir("hopgate-open-proxy");
  auto file = dir.write_file("hopgate.json", cfg.dump(2));
  ChildProcess p({hopgate_binary(), "--config", file.string()});
  auto st = p.wait(20s);
  if (!st) {
    p.stop(SIGKILL);
    return {-1, p.output()};
  }
  return {st->exited() ? st->exit_code() : -1, p.output()};
}

/// A non-loopback IPv4 address of this machine, if it has one.
std::optional<std::string> interface_ipv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> out;
  for (auto* i = list; i && !out; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    if (std::string(text).rfind("127.", 0) != 0) out = text;
  }
  freeifaddrs(list);
  return out;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

} // namespace

TEST(HardeningAccess, DeniedClientIsClosedWithoutAWordAndOthersAreServed) {
  HttpOrigin origin;
  TcpEcho echo;
  auto cfg = base_config();
  cfg["listeners"]["socks"]["deny"] = json::array({"127.0.0.2"});
  cfg["listeners"]["http"]["allow"] = json::array({"127.0.0.1/32"});
  HopgateProcess hg(cfg);

  for (int i = 0; i < 50; ++i) {
    auto denied = connect_from("127.0.0.2", hg.port("socks"));
    ASSERT_TRUE(denied);
    send_all(denied, socks::greeting({0x00}));
    Bytes got;
    EXPECT_TRUE(wait_closed(denied, 5s, &got)) << "a denied SOCKS client is closed";
    EXPECT_TRUE(got.empty()) << "and told nothing: " << to_hex(got);

    auto outside = http_exchange(hg.port("http"), "GET " + origin.url("/hello") + " HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.3", 5s);
    EXPECT_EQ(outside.status, -1) << outside.text;
    EXPECT_TRUE(outside.text.empty()) << outside.text;
  }
  ASSERT_TRUE(hg.running());

  // Everyone else is served, by both listeners.
  EXPECT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.3"), 0x00);
  Fd tunnel;
  ASSERT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port(), "127.0.0.1", &tunnel), 0x00);
  ASSERT_TRUE(send_all(tunnel, "ping"));
  EXPECT_EQ(recv_exact(tunnel, 4), bytes_of("ping"));
  auto r = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "hello from origin\n");

  // A hundred refusals made a line or two in the log, not a hundred.
  auto log = hg.log();
  auto lines = count_of(log, "not let in by its allow/deny lists");
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, 4u) << log.substr(0, 4000);
}

TEST(HardeningAccess, OpenProxyRefusedAtStartUnlessAcknowledged) {
  for (const char* kind : {"http", "socks"}) {
    SCOPED_TRACE(kind);
    json cfg = {{"listeners", {{kind, {{"listen", "0.0.0.0:0"}}}}}};
    auto r = start_expecting_exit(cfg);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("open proxy anyone can abuse"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(std::string("/listeners/") + kind), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("listening"), std::string::npos) << "nothing was bound: " << r.output;

    // Each way out of it starts: open_proxy, an allow list, or a password.
    for (auto fix : {json{{"open_proxy", true}}, json{{"allow", {"10.0.0.0/8", "127.0.0.0/8"}}}, json{{"auth", "password"}}}) {
      auto ok = cfg;
      ok["listeners"][kind].update(fix);
      ok["users"] = json::array({{{"name", "alice"}, {"password", "pw"}}});
      HopgateProcess hg(ok);
      // Served: a reply proves the accept loop runs (and so does the SIGTERM handler the stop needs).
      auto fd = connect_tcp("127.0.0.1", hg.port(kind));
      send_all(fd, std::string(kind) == "socks" ? std::string("\x05\x02\x00\x02", 4) : std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      EXPECT_TRUE(recv_exact(fd, 2)) << fix.dump();
      EXPECT_TRUE(hg.running()) << fix.dump();
    }
  }
}

TEST(HardeningAccess, RouteAllowPortsRefusedInEachProtocol) {
  HttpOrigin origin;
  TcpEcho echo;
  auto cfg = base_config();
  cfg["routes"] = json::array({{{"name", "web-only"}, {"match", json::object()}, {"via", "direct"},
                                {"allow_ports", json::array({origin.port()})}}});
  HopgateProcess hg(cfg);

  EXPECT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port()), 0x02) << "SOCKS5: connection not allowed by ruleset";
  EXPECT_EQ(socks4_connect(hg.port("socks"), "127.0.0.1", echo.port()), 0x5B);
  auto connect = http_exchange(hg.port("http"), "CONNECT 127.0.0.1:" + std::to_string(echo.port()) +
                                                     " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(connect.status, 403) << connect.text;
  auto get = run_curl({"-x", proxy_url(hg), "-s", "-o", "/dev/null", "-w", "%{http_code}",
                       "http://127.0.0.1:" + std::to_string(echo.port()) + "/"});
  EXPECT_EQ(get.out, "403") << get.describe();

  // The allowed port passes, through each front end; the process is still serving.
  EXPECT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", origin.port()), 0x00);
  auto ok = run_curl({"-x", proxy_url(hg), origin.url("/hello")});
  EXPECT_TRUE(ok.ok()) << ok.describe();
  auto tunneled = run_curl({"-p", "-x", proxy_url(hg), origin.url("/hello")});
  EXPECT_TRUE(tunneled.ok()) << tunneled.describe();
  EXPECT_TRUE(hg.running());
}

TEST(HardeningAccess, OwnListenersAreNeverTargets) {
  TcpEcho echo;
  HopgateProcess hg(base_config());
  auto socks_port = hg.port("socks");
  for (const auto& name : {"socks", "http", "admin"}) {
    SCOPED_TRACE(name);
    auto port = hg.port(name);
    EXPECT_EQ(socks5_connect(socks_port, "127.0.0.1", port), 0x02);
    EXPECT_EQ(socks5_connect(socks_port, "localhost", port), 0x02);
    EXPECT_EQ(socks5_connect(socks_port, "0.0.0.0", port), 0x02);
    EXPECT_EQ(socks5_connect(socks_port, "::ffff:127.0.0.1", port), 0x02);
    EXPECT_EQ(socks4_connect(socks_port, "127.0.0.1", port), 0x5B);
    auto c = http_exchange(hg.port("http"), "CONNECT 127.0.0.1:" + std::to_string(port) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(c.status, 403) << c.text;
    auto c2 = http_exchange(hg.port("http"), "CONNECT localhost:" + std::to_string(port) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(c2.status, 403) << c2.text;
  }
  // Another loopback address on the same port is not hopgate (nothing listens there): the dial is
  // tried and fails as a dial, not as a policy refusal.
  auto other = socks5_connect(socks_port, "127.0.0.2", hg.port("admin"));
  EXPECT_NE(other, 0x02);
  EXPECT_NE(other, 0x00);
  EXPECT_EQ(socks5_connect(socks_port, "127.0.0.1", echo.port()), 0x00);
  EXPECT_NE(hg.log().find("is hopgate's own listener"), std::string::npos);
  EXPECT_TRUE(hg.running());
}

// The absolute-URI path of the HTTP front end (GET http://host/...) routes and dials for its
// connection pool, and asks the same policy: the admin API is not reachable through the proxy.
TEST(HardeningAccess, AbsoluteUriToOwnListenerRefused) {
  auto cfg = base_config();
  cfg["listeners"]["admin"]["token"] = "t0k";
  HopgateProcess hg(cfg);
  for (const auto& host : {std::string("127.0.0.1"), std::string("localhost"), std::string("0.0.0.0")}) {
    auto r = run_curl({"-x", proxy_url(hg), "-s", "-o", "/dev/null", "-w", "%{http_code}",
                       "http://" + host + ":" + std::to_string(hg.port("admin")) + "/api/v1/config"});
    EXPECT_EQ(r.out, "403") << host << ": " << r.describe();
  }
  EXPECT_TRUE(hg.running());
}

TEST(HardeningAccess, WildcardListenerIsMatchedByLoopbackAndInterfaceAddresses) {
  TcpEcho echo;
  auto cfg = base_config();
  cfg["listeners"]["socks"] = {{"listen", "0.0.0.0:0"}, {"allow", "127.0.0.0/8"}};
  HopgateProcess hg(cfg);
  auto port = hg.port("socks");
  EXPECT_EQ(socks5_connect(port, "127.0.0.1", port), 0x02);
  EXPECT_EQ(socks5_connect(port, "127.9.9.9", port), 0x02) << "a 0.0.0.0 listener takes all of 127/8";
  EXPECT_EQ(socks5_connect(port, "0.0.0.0", port), 0x02);
  if (auto ip = interface_ipv4()) {
    EXPECT_EQ(socks5_connect(port, *ip, port), 0x02) << *ip;
  }
  EXPECT_EQ(socks5_connect(port, "127.0.0.1", echo.port()), 0x00);
}

TEST(HardeningAccess, DenyPrivateTargetsRefusesLoopbackAlsoAfterResolution) {
  TcpEcho echo;
  FixedDns dns("127.0.0.1");
  auto cfg = base_config();
  cfg["dns"] = {{"servers", "127.0.0.1:" + std::to_string(dns.port())}};
  {
    // Default off: the name resolves (through the test's DNS server) to the echo server.
    HopgateProcess open(cfg);
    Fd t;
    ASSERT_EQ(socks5_connect(open.port("socks"), "internal.test", echo.port(), "127.0.0.1", &t), 0x00) << open.log();
    ASSERT_TRUE(send_all(t, "x"));
    EXPECT_EQ(recv_exact(t, 1), bytes_of("x"));
  }
  cfg["deny_private_targets"] = true;
  HopgateProcess hg(cfg);
  auto before = dns.queries();
  EXPECT_EQ(socks5_connect(hg.port("socks"), "internal2.test", echo.port()), 0x02);
  EXPECT_GT(dns.queries(), before) << "the name was resolved, then refused";
  EXPECT_EQ(socks5_connect(hg.port("socks"), "127.0.0.1", echo.port()), 0x02);
  EXPECT_EQ(socks5_connect(hg.port("socks"), "localhost", echo.port()), 0x02);
  EXPECT_EQ(socks5_connect(hg.port("socks"), "10.1.2.3", 80), 0x02);
  EXPECT_EQ(socks5_connect(hg.port("socks"), "169.254.169.254", 80), 0x02);
  EXPECT_EQ(socks4_connect(hg.port("socks"), "127.0.0.1", echo.port()), 0x5B);
  auto c = http_exchange(hg.port("http"), "CONNECT internal3.test:" + std::to_string(echo.port()) + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.status, 403) << c.text;
  EXPECT_NE(hg.log().find("deny_private_targets"), std::string::npos);
  EXPECT_TRUE(hg.running());
}

TEST(HardeningAccess, SchemaAndLoaderKnowTheHardeningKeys) {
  std::ifstream in(std::string(HOPGATE_SOURCE_DIR) + "/config/hopgate.schema.json");
  ASSERT_TRUE(in);
  auto schema = json::parse(in);
  const auto& p = schema["properties"];
  EXPECT_EQ(p["deny_private_targets"]["type"], "boolean");
  EXPECT_EQ(p["deny_private_targets"]["default"], false);
  EXPECT_EQ(p["dns"]["properties"]["max_concurrent_lookups"]["default"], 256);
  EXPECT_EQ(p["limits"]["properties"]["max_connections"]["default"], 0);
  EXPECT_EQ(p["limits"]["properties"]["max_connections_per_client"]["default"], 0);
  // And --check agrees with the schema on them.
  auto cfg = base_config();
  cfg["deny_private_targets"] = true;
  cfg["dns"] = {{"max_concurrent_lookups", 8}};
  cfg["limits"] = {{"max_connections", 100}, {"max_connections_per_client", 10}};
  TempDir dir("hopgate-hardening-check");
  auto file = dir.write_file("hopgate.json", cfg.dump());
  ChildProcess ok({hopgate_binary(), "--check", "--config", file.string()});
  auto st = ok.wait(20s);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code(), 0) << ok.output();
  cfg["deny_private_targets"] = 1;
  auto bad_file = dir.write_file("bad.json", cfg.dump());
  ChildProcess bad({hopgate_binary(), "--check", "--config", bad_file.string()});
  auto st2 = bad.wait(20s);
  ASSERT_TRUE(st2);
  EXPECT_EQ(st2->exit_code(), 1) << bad.output();
  EXPECT_NE(bad.output().find("/deny_private_targets"), std::string::npos) << bad.output();
}
