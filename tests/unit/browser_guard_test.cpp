// The admin API's browser guard (admin/browser_guard.hpp) and the authority parsing under it
// (core/authority.hpp): the Host rule against DNS rebinding, the cross-site rule.
#include "hopgate/admin/browser_guard.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace hopgate;
using namespace hopgate::admin;

namespace {

HostVerdict host(std::vector<std::string_view> values, std::vector<std::string> names = {}) {
  return check_host(values, names);
}

CrossSiteAnswer cross(std::vector<std::string_view> origins, std::string_view site, bool sensitive,
                      std::vector<std::string> cors = {}, std::string_view own_host = "127.0.0.1:9090") {
  CrossSiteQuestion q{origins, site, own_host, sensitive, cors};
  return check_cross_site(q);
}

} // namespace

TEST(HostHeader, TakesApartNamesAddressesAndPorts) {
  auto a = parse_host_header("Example.COM:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 8080);
  EXPECT_FALSE(a->ip_literal);

  a = parse_host_header("127.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->ip_literal);
  EXPECT_FALSE(a->port);

  a = parse_host_header("[::1]:9090");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "[::1]");
  EXPECT_EQ(a->port, 9090);
  EXPECT_TRUE(a->ip_literal);

  a = parse_host_header("[FE80::1]");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "[fe80::1]");
  EXPECT_TRUE(a->ip_literal);

  a = parse_host_header("localhost.:9090");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");

  a = parse_host_header("host:"); // RFC 3986: an empty port is the default port
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->port);
}

TEST(HostHeader, RefusesWhatIsNotABareAuthority) {
  for (const char* bad : {"", ":9090", "user@127.0.0.1", "user:pw@localhost", "localhost/admin", "localhost:9090/x",
                          "a b", "localhost?x", "::1", "::1:9090", "[::1", "[::1]x", "[::1]:", "[zz::1]", "[fe80::1%eth0]",
                          "localhost:65536", "localhost:123456", "localhost:-1", "localhost:9a", "a..b", "..", ".",
                          "evil.example:80:80", "http://localhost"}) {
    auto a = parse_host_header(bad);
    // "[::1]:" has an empty port, which RFC 3986 allows.
    if (std::string_view(bad) == "[::1]:") {
      EXPECT_TRUE(a) << bad;
      continue;
    }
    EXPECT_FALSE(a) << "accepted \"" << bad << "\"";
  }
}

TEST(HostRule, AllowsIpLiteralsLocalhostAndListedNamesOnly) {
  EXPECT_EQ(host({"127.0.0.1:9090"}), HostVerdict::allowed);
  EXPECT_EQ(host({"127.0.0.1"}), HostVerdict::allowed);
  EXPECT_EQ(host({"10.1.2.3:9090"}), HostVerdict::allowed);
  EXPECT_EQ(host({"[::1]:9090"}), HostVerdict::allowed);
  EXPECT_EQ(host({"[::1]"}), HostVerdict::allowed);
  EXPECT_EQ(host({"localhost:9090"}), HostVerdict::allowed);
  EXPECT_EQ(host({"LocalHost.:9090"}), HostVerdict::allowed);
  EXPECT_EQ(host({"localhost."}), HostVerdict::allowed);

  EXPECT_EQ(host({"evil.example:9090"}), HostVerdict::not_allowed);
  EXPECT_EQ(host({"evil.example"}), HostVerdict::not_allowed);
  EXPECT_EQ(host({"rebind.test:9090"}), HostVerdict::not_allowed);
  // Not loopback by name: only "localhost" itself, and decimal forms of addresses are names.
  EXPECT_EQ(host({"evil.localhost"}), HostVerdict::not_allowed);
  EXPECT_EQ(host({"2130706433:9090"}), HostVerdict::not_allowed);
  EXPECT_EQ(host({"127.1:9090"}), HostVerdict::not_allowed);

  std::vector<std::string> names{"hopgate.default.svc", "rebind.test"};
  EXPECT_EQ(host({"hopgate.default.svc:9090"}, names), HostVerdict::allowed);
  EXPECT_EQ(host({"HOPGATE.Default.SVC."}, names), HostVerdict::allowed);
  EXPECT_EQ(host({"rebind.test:1"}, names), HostVerdict::allowed);
  EXPECT_EQ(host({"x.rebind.test"}, names), HostVerdict::not_allowed);
  EXPECT_EQ(host({"hopgate.default"}, names), HostVerdict::not_allowed);
}

TEST(HostRule, MissingRepeatedAndMalformedHostsAreRefused) {
  EXPECT_EQ(host({}), HostVerdict::missing);
  EXPECT_EQ(host({"127.0.0.1:9090", "127.0.0.1:9090"}), HostVerdict::several);
  EXPECT_EQ(host({"127.0.0.1:9090", "evil.example"}), HostVerdict::several);
  EXPECT_EQ(host({"user@127.0.0.1:9090"}), HostVerdict::malformed);
  EXPECT_EQ(host({"127.0.0.1:9090/api"}), HostVerdict::malformed);
  EXPECT_EQ(host({"::1"}), HostVerdict::malformed);
  EXPECT_EQ(host({""}), HostVerdict::malformed);
}

TEST(Origin, NormalizesToTheFormBrowsersSend) {
  EXPECT_EQ(normalize_origin("http://127.0.0.1:8000"), "http://127.0.0.1:8000");
  EXPECT_EQ(normalize_origin("HTTP://Dash.Example:80"), "http://dash.example");
  EXPECT_EQ(normalize_origin("https://dash.example:443"), "https://dash.example");
  EXPECT_EQ(normalize_origin("https://dash.example:8443"), "https://dash.example:8443");
  EXPECT_EQ(normalize_origin("http://[::1]:9090"), "http://[::1]:9090");
  for (const char* bad : {"null", "*", "", "dash.example", "ftp://dash.example", "http://", "http://a/b", "http://u@a",
                          "http://a:99999", "http:// a", "http://a b"})
    EXPECT_FALSE(normalize_origin(bad)) << bad;
}

TEST(CrossSiteRule, RequestsWithoutOriginFromTheSameOriginOrTypedAreAllowed) {
  EXPECT_FALSE(cross({}, "", true).refused);                // curl, Prometheus, scripts
  EXPECT_FALSE(cross({}, "none", true).refused);            // typed in the address bar
  EXPECT_FALSE(cross({}, "same-origin", true).refused);     // the API's own page
  EXPECT_FALSE(cross({"http://127.0.0.1:9090"}, "same-origin", true).refused);
  EXPECT_FALSE(cross({"http://LOCALHOST:9090"}, "", true, {}, "localhost:9090").refused);
  EXPECT_FALSE(cross({"http://localhost"}, "", true, {}, "localhost:80").refused);
}

TEST(CrossSiteRule, OtherOriginsAreRefusedForSensitiveRequestsOnly) {
  auto a = cross({"http://evil.example"}, "cross-site", true);
  EXPECT_TRUE(a.refused);
  EXPECT_NE(a.reason.find("evil.example"), std::string::npos);
  EXPECT_TRUE(cross({"http://127.0.0.1:8000"}, "same-site", true).refused); // another port: another origin
  EXPECT_TRUE(cross({"null"}, "cross-site", true).refused);
  EXPECT_TRUE(cross({"null"}, "", true).refused);
  EXPECT_TRUE(cross({}, "cross-site", true).refused); // <img src>, no-cors: no Origin, but Sec-Fetch-Site
  EXPECT_TRUE(cross({}, "same-site", true).refused);
  EXPECT_TRUE(cross({}, "Cross-Site", true).refused);
  EXPECT_TRUE(cross({"http://127.0.0.1:9090", "http://127.0.0.1:9090"}, "", true).refused);
  EXPECT_TRUE(cross({"https://127.0.0.1:9090"}, "", true).refused); // another scheme is another origin

  EXPECT_FALSE(cross({"http://evil.example"}, "cross-site", false).refused); // /healthz
  EXPECT_FALSE(cross({}, "cross-site", false).refused);
}

TEST(CrossSiteRule, ConfiguredOriginsAreAllowedAndNamedForCors) {
  std::vector<std::string> cors{"http://dash.example:8080"};
  auto a = cross({"http://DASH.example:8080"}, "cross-site", true, cors);
  EXPECT_FALSE(a.refused);
  EXPECT_EQ(a.cors_origin, "http://dash.example:8080");
  a = cross({"http://dash.example:8080"}, "cross-site", false, cors);
  EXPECT_EQ(a.cors_origin, "http://dash.example:8080");
  EXPECT_TRUE(cross({"http://dash.example:8081"}, "cross-site", true, cors).refused);
  EXPECT_TRUE(cross({"https://dash.example:8080"}, "cross-site", true, cors).refused);
  EXPECT_TRUE(cross({}, "cross-site", true, cors).refused);
  EXPECT_TRUE(cross({}, "", true, cors).cors_origin.empty());
}
