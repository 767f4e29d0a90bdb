// Which URL --healthcheck asks (no sockets here; the integration tests probe a running hopgate).
#include "hopgate/cli/healthcheck.hpp"
#include "hopgate/config/loader.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace hopgate::cli {
namespace {

TEST(CliHealthcheckUrl, Parse) {
  std::string why;
  auto u = parse_http_url("http://127.0.0.1:9090/healthz", why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9090);
  EXPECT_EQ(u->target, "/healthz");
  auto v6 = parse_http_url("http://[::1]:9090/readyz?x=1", why);
  ASSERT_TRUE(v6) << why;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->target, "/readyz?x=1");
  auto bare = parse_http_url("http://localhost", why);
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->port, 80);
  EXPECT_EQ(bare->target, "/");
  for (auto bad : {"https://x:1/", "127.0.0.1:9090", "http://:9090/", "http://x:0/", "http://x:70000/", "http://[::1/",
                   "http://u:p@x:1/", "http://[::1]x/"})
    EXPECT_FALSE(parse_http_url(bad, why)) << bad;
}

config::Config load(const char* text) {
  auto r = config::load_config(nlohmann::json::parse(text));
  EXPECT_TRUE(r.ok());
  return *r.config;
}

TEST(CliHealthcheckUrl, FromTheAdminListener) {
  auto cfg = load(R"({"listeners": {"http": {"listen": "127.0.0.1:8118"}, "admin": {"listen": ["127.0.0.1:9091"]}}})");
  std::string why;
  auto u = healthcheck_url("", &cfg, why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9091);
  EXPECT_EQ(u->target, "/healthz");
  EXPECT_EQ(healthcheck_url("/readyz", &cfg, why)->target, "/readyz");
  EXPECT_EQ(healthcheck_url("http://10.0.0.1:1/x", &cfg, why)->host, "10.0.0.1");
  EXPECT_FALSE(healthcheck_url("readyz", &cfg, why));
}

TEST(CliHealthcheckUrl, WildcardBecomesLoopback) {
  auto cfg = load(R"({"listeners": {"http": {"listen": "127.0.0.1:8118"},
                      "admin": {"listen": ["0.0.0.0:9090"], "token": "t"}}})");
  std::string why;
  EXPECT_EQ(healthcheck_url("", &cfg, why)->host, "127.0.0.1");
  auto cfg6 = load(R"({"listeners": {"http": {"listen": "127.0.0.1:8118"},
                       "admin": {"listen": ["[::]:9090"], "token": "t"}}})");
  EXPECT_EQ(healthcheck_url("", &cfg6, why)->host, "::1");
}

TEST(CliHealthcheckUrl, NeedsAKnownAdminPort) {
  std::string why;
  auto none = load(R"({"listeners": {"http": {"listen": "127.0.0.1:8118"}}})");
  EXPECT_FALSE(healthcheck_url("", &none, why));
  EXPECT_FALSE(why.empty());
  auto zero = load(R"({"listeners": {"http": {"listen": "127.0.0.1:8118"}, "admin": {"listen": "127.0.0.1:0"}}})");
  EXPECT_FALSE(healthcheck_url("", &zero, why));
  EXPECT_FALSE(healthcheck_url("", nullptr, why));
}

} // namespace
} // namespace hopgate::cli
