// Secrets never leave: a run with password auth (right and wrong passwords, SOCKS5 and HTTP),
// an upstream with credentials in its URL, and an admin token, logging at debug level; then the
// whole log, the error replies and GET /api/v1/config are searched for every secret string and
// its Basic encoding. The config file the test harness writes is world-readable: hopgate warns,
// without naming a secret.
#include "hardening_common.hpp"
#include "support/curl.hpp"
#include "support/origin.hpp"
#include "support/peers.hpp"

#include "hopgate/core/base64.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

using namespace hopgate::test;
using namespace hopgate::test::hardening;
using nlohmann::json;

namespace {

const std::string kUserPass = "Us3r-Pa55-q7Zx";
const std::string kWrongPass = "Wr0ng-Pa55-k2Vb";
const std::string kUpstreamPass = "Up5tr3am-Pa55-m4Ny";
const std::string kToken = "Adm1n-T0ken-p9Lc";

std::string b64(const std::string& s) {
  return hopgate::base64_encode(std::string_view(s));
}

std::vector<std::string> secrets() {
  return {kUserPass, kWrongPass, kUpstreamPass, kToken, b64("alice:" + kUserPass), b64("alice:" + kWrongPass),
          b64("up:" + kUpstreamPass)};
}

void expect_no_secret(const std::string& where, const std::string& text) {
  for (auto& s : secrets()) EXPECT_EQ(text.find(s), std::string::npos) << where << " contains \"" << s << "\"";
}

} // namespace

TEST(HardeningSecrets, NoSecretInLogsRepliesOrConfigApi) {
  HttpOrigin origin;
  Microsocks upstream(Credentials{"up", kUpstreamPass});
  auto cfg = json::parse(R"({
    "listeners": {
      "socks": { "listen": "127.0.0.1:0", "auth": "password" },
      "http":  { "listen": "127.0.0.1:0", "auth": "password" },
      "admin": { "listen": "127.0.0.1:0" }
    },
    "routes": [ { "name": "via-upstream", "match": { "domain": "via.upstream" }, "via": "up" } ],
    "default": { "via": "direct" },
    "log": { "level": "debug" }
  })");
  cfg["users"] = json::array({{{"name", "alice"}, {"password", kUserPass}}});
  cfg["upstreams"] = {{"up", "socks5://up:" + kUpstreamPass + "@127.0.0.1:" + std::to_string(upstream.port())}};
  cfg["listeners"]["admin"]["token"] = kToken;
  HopgateProcess hg(cfg);
  std::string replies;

  // SOCKS5: a wrong password, then the right one.
  auto socks = "127.0.0.1:" + std::to_string(hg.port("socks"));
  auto wrong = run_curl({"--socks5", socks, "--proxy-user", "alice:" + kWrongPass, origin.url("/hello")});
  EXPECT_FALSE(wrong.ok());
  replies += wrong.out + wrong.err;
  auto right = run_curl({"--socks5", socks, "--proxy-user", "alice:" + kUserPass, origin.url("/hello")});
  EXPECT_TRUE(right.ok()) << right.describe();

  // HTTP: wrong and right, forwarding and CONNECT; the 407 reply is read in full.
  auto proxy = "http://127.0.0.1:" + std::to_string(hg.port("http"));
  for (bool tunnel : {false, true}) {
    std::vector<std::string> args{"-i", "-x", proxy, "--proxy-user", "alice:" + kWrongPass, origin.url("/hello")};
    if (tunnel) args.insert(args.begin(), "-p");
    auto w = run_curl(args);
    replies += w.out + w.err;
    std::vector<std::string> ok_args{"-x", proxy, "--proxy-user", "alice:" + kUserPass, origin.url("/hello")};
    if (tunnel) ok_args.insert(ok_args.begin(), "-p");
    auto r = run_curl(ok_args);
    EXPECT_TRUE(r.ok()) << r.describe();
  }
  auto raw = http_exchange(hg.port("http"), "GET " + origin.url("/hello") + " HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic " +
                                                b64("alice:" + kWrongPass) + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.status, 407) << raw.text;
  replies += raw.text;

  // Through the upstream that needs its own credentials (and once with it refusing them: a
  // wrong upstream password would show up in a failure message if anywhere).
  auto through = run_curl({"--socks5-hostname", socks, "--proxy-user", "alice:" + kUserPass,
                           "http://via.upstream:" + std::to_string(origin.port()) + "/hello"});
  replies += through.out + through.err; // microsocks cannot resolve via.upstream: an error reply, fine

  // The admin API: the config document and the error of a wrong token.
  auto config = admin_get(hg, "/api/v1/config", kToken);
  EXPECT_EQ(config.status, 200) << config.text;
  expect_no_secret("GET /api/v1/config", config.text);
  auto bad_token = admin_get(hg, "/api/v1/config", kWrongPass);
  EXPECT_EQ(bad_token.status, 401);
  replies += bad_token.text;
  auto upstreams = admin_get(hg, "/api/v1/upstreams", kToken);
  expect_no_secret("GET /api/v1/upstreams", upstreams.text);
  auto conns = admin_get(hg, "/api/v1/connections", kToken);
  expect_no_secret("GET /api/v1/connections", conns.text);

  expect_no_secret("replies to clients", replies);
  hg.stop();
  auto log = hg.log();
  EXPECT_NE(log.find("authentication failed"), std::string::npos) << "the failures were logged (without the password)";
  expect_no_secret("the log", log);
}

TEST(HardeningSecrets, WorldReadableConfigWithSecretsIsWarnedAbout) {
  // The harness writes the config file with this process's umask.
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (mask & S_IROTH) GTEST_SKIP() << "the umask makes the config file private: nothing to warn about";
  auto cfg = json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0", "auth": "password"}}, "default": {"via": "direct"}})");
  cfg["users"] = json::array({{{"name", "alice"}, {"password", kUserPass}}});
  HopgateProcess hg(cfg);
  auto log = hg.log();
  EXPECT_NE(log.find("is readable by every local user"), std::string::npos) << log;
  EXPECT_NE(log.find("holds user passwords"), std::string::npos) << log;
  expect_no_secret("the warning", log);

  // No secrets, no warning.
  HopgateProcess plain(json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}}, "default": {"via": "direct"}})"));
  EXPECT_EQ(plain.log().find("readable by every local user"), std::string::npos) << plain.log();
}
