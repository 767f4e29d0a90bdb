// Connection counting, the DNS lookup limiter, hopgate's own endpoints, the target policy, the
// config keys of hardening, and the config-file permission warning.
#include "hopgate/config/loader.hpp"
#include "hopgate/config/permissions.hpp"
#include "hopgate/dns/lookup_limiter.hpp"
#include "hopgate/frontend/limits.hpp"
#include "hopgate/frontend/target_policy.hpp"

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

using namespace hopgate;
using namespace hopgate::frontend;
using boost::asio::ip::make_address;
using nlohmann::json;

namespace {

tcp::endpoint ep(const char* ip, std::uint16_t port) { return {make_address(ip), port}; }

} // namespace

TEST(LimitsConnections, CountsPerClientAndTotal) {
  ConnectionLimits l;
  auto a = make_address("10.0.0.1"), b = make_address("10.0.0.2");
  auto s1 = l.acquire(a, 1, 3, 2);
  auto s2 = l.acquire(a, 2, 3, 2);
  EXPECT_FALSE(s1.over_limit());
  EXPECT_FALSE(s2.over_limit());
  auto s3 = l.acquire(a, 3, 3, 2);
  EXPECT_TRUE(s3.over_limit());
  EXPECT_EQ(s3.which(), "max_connections_per_client");
  EXPECT_TRUE(l.is_over(3));
  EXPECT_FALSE(l.is_over(1));
  auto s4 = l.acquire(b, 4, 3, 2);
  EXPECT_FALSE(s4.over_limit());
  auto s5 = l.acquire(b, 5, 3, 2);
  EXPECT_TRUE(s5.over_limit());
  EXPECT_EQ(s5.which(), "max_connections");
  EXPECT_EQ(l.total(), 3u);
  EXPECT_EQ(l.from(a), 2u);
  // Over-limit slots are not counted and let go of their flag at release.
  s3.release();
  EXPECT_FALSE(l.is_over(3));
  s1.release();
  EXPECT_EQ(l.from(a), 1u);
  auto s6 = l.acquire(a, 6, 3, 2);
  EXPECT_FALSE(s6.over_limit());
}

TEST(LimitsConnections, MappedAddressesCountAsIpv4AndUnlimitedCounts) {
  ConnectionLimits l;
  auto s1 = l.acquire(make_address("::ffff:10.0.0.1"), 1, 0, 1);
  auto s2 = l.acquire(make_address("10.0.0.1"), 2, 0, 1);
  EXPECT_TRUE(s2.over_limit());
  EXPECT_EQ(l.from(make_address("10.0.0.1")), 1u);
  std::vector<ConnectionLimits::Slot> many;
  for (std::uint64_t i = 10; i < 1010; ++i) many.push_back(l.acquire(make_address("10.9.9.9"), i, 0, 0));
  EXPECT_EQ(l.total(), 1001u);
  many.clear();
  EXPECT_EQ(l.total(), 1u);
}

TEST(LimitsConnections, OverLimitBacklogIsBounded) {
  ConnectionLimits l;
  auto first = l.acquire(make_address("10.0.0.1"), 1, 1, 0);
  std::vector<ConnectionLimits::Slot> over;
  for (std::uint64_t i = 0; i < ConnectionLimits::over_limit_backlog; ++i) {
    over.push_back(l.acquire(make_address("10.0.0.2"), 100 + i, 1, 0));
    ASSERT_TRUE(over.back().over_limit());
    ASSERT_FALSE(over.back().refused());
  }
  auto one_more = l.acquire(make_address("10.0.0.3"), 99, 1, 0);
  EXPECT_TRUE(one_more.refused());
  EXPECT_FALSE(l.is_over(99));
  over.pop_back();
  auto again = l.acquire(make_address("10.0.0.3"), 98, 1, 0);
  EXPECT_TRUE(again.over_limit());
  EXPECT_FALSE(again.refused());
}

TEST(LimitsConnections, SlotMoveKeepsOneRelease) {
  ConnectionLimits l;
  auto s = l.acquire(make_address("10.0.0.1"), 1, 0, 0);
  ConnectionLimits::Slot moved = std::move(s);
  s.release(); // moved-from: nothing
  EXPECT_EQ(l.total(), 1u);
  moved.release();
  moved.release();
  EXPECT_EQ(l.total(), 0u);
}

TEST(LimitsLookups, PermitsAreBoundedAndWaitersGetFreedOnes) {
  dns::LookupLimiter lim;
  auto p1 = lim.try_acquire(2);
  auto p2 = lim.try_acquire(2);
  ASSERT_TRUE(p1 && p2);
  EXPECT_FALSE(lim.try_acquire(2));
  EXPECT_TRUE(lim.try_acquire(0)); // 0: unlimited (the temporary is released at once)
  EXPECT_EQ(lim.in_flight(), 2u);

  boost::asio::io_context io;
  std::optional<bool> timed_out, freed;
  asio::co_spawn(io, [&]() -> awaitable<void> {
    auto p = co_await lim.acquire(2, std::chrono::milliseconds(30));
    timed_out = !p.has_value();
  }, asio::detached);
  io.run();
  EXPECT_EQ(timed_out, true);
  EXPECT_EQ(lim.refused(), 1u);

  io.restart();
  asio::co_spawn(io, [&]() -> awaitable<void> {
    auto p = co_await lim.acquire(2, std::chrono::seconds(5));
    freed = p.has_value();
  }, asio::detached);
  asio::steady_timer t(io, std::chrono::milliseconds(20));
  t.async_wait([&](error_code) { p1->reset(); });
  io.run();
  EXPECT_EQ(freed, true);
  EXPECT_EQ(lim.in_flight(), 1u);
  p2.reset();
  EXPECT_EQ(lim.in_flight(), 0u);
}

TEST(LimitsOwnEndpoints, LoopbackListenerMatchesItsAddressAndUnspecifiedOnly) {
  OwnEndpoints own;
  own.add(ep("127.0.0.1", 1080));
  EXPECT_TRUE(own.has_port(1080));
  EXPECT_FALSE(own.has_port(1081));
  EXPECT_TRUE(own.reaches(make_address("127.0.0.1"), 1080));
  EXPECT_TRUE(own.reaches(make_address("::ffff:127.0.0.1"), 1080));
  EXPECT_TRUE(own.reaches(make_address("0.0.0.0"), 1080)); // connect(0.0.0.0) lands on loopback
  EXPECT_FALSE(own.reaches(make_address("127.0.0.2"), 1080));
  EXPECT_FALSE(own.reaches(make_address("127.0.0.1"), 1081));
  EXPECT_FALSE(own.reaches(make_address("::1"), 1080)); // an IPv4 listener is not reached over IPv6
  EXPECT_FALSE(own.reaches(make_address("10.0.0.1"), 1080));
}

TEST(LimitsOwnEndpoints, WildcardListenerMatchesEveryLocalAddress) {
  OwnEndpoints own;
  own.add(ep("0.0.0.0", 8080));
  own.add(ep("::", 8081));
  EXPECT_TRUE(own.reaches(make_address("127.0.0.1"), 8080));
  EXPECT_TRUE(own.reaches(make_address("127.1.2.3"), 8080));
  EXPECT_TRUE(own.reaches(make_address("0.0.0.0"), 8080));
  EXPECT_FALSE(own.reaches(make_address("::1"), 8080));
  EXPECT_TRUE(own.reaches(make_address("::1"), 8081));
  EXPECT_TRUE(own.reaches(make_address("::"), 8081));
  EXPECT_FALSE(own.reaches(make_address("127.0.0.1"), 8081));
  for (auto& a : local_interface_addresses()) {
    auto u = unmap_v4(a);
    EXPECT_TRUE(own.reaches(u, u.is_v4() ? 8080 : 8081)) << u.to_string();
  }
  EXPECT_FALSE(own.reaches(make_address("192.0.2.1"), 8080)); // TEST-NET: no interface has it
}

TEST(LimitsTargetPolicy, PrivateAddresses) {
  for (auto* a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                  "0.0.0.0", "255.255.255.255", "224.0.0.1", "::1", "::", "fd00::1", "fe80::1", "::ffff:10.0.0.1",
                  "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "ff02::1"})
    EXPECT_TRUE(is_private_address(make_address(a))) << a;
  for (auto* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"})
    EXPECT_FALSE(is_private_address(make_address(a))) << a;
  EXPECT_TRUE(is_localhost_name("localhost"));
  EXPECT_TRUE(is_localhost_name("LOCALHOST."));
  EXPECT_TRUE(is_localhost_name("api.localhost"));
  EXPECT_FALSE(is_localhost_name("notlocalhost"));
  EXPECT_FALSE(is_localhost_name("localhost.example"));
}

TEST(LimitsTargetPolicy, RefusesOwnListenersAndPrivateTargets) {
  OwnEndpoints own;
  own.add(ep("127.0.0.1", 9090));
  auto t = [](const char* s) { return *TargetAddress::parse(s); };
  EXPECT_TRUE(target_refusal(own, false, t("127.0.0.1:9090")));
  EXPECT_TRUE(target_refusal(own, false, t("localhost:9090")));
  EXPECT_TRUE(target_refusal(own, false, t("0.0.0.0:9090")));
  EXPECT_FALSE(target_refusal(own, false, t("127.0.0.1:9091")));
  EXPECT_FALSE(target_refusal(own, false, t("example.com:9090"))); // a name, not resolved: nothing known
  std::vector<boost::asio::ip::address> loop{make_address("127.0.0.1")};
  EXPECT_TRUE(target_refusal(own, false, t("example.com:9090"), loop));
  EXPECT_FALSE(target_refusal(own, false, t("example.com:80"), loop));
  EXPECT_TRUE(target_refusal(own, true, t("example.com:80"), loop));
  EXPECT_TRUE(target_refusal(own, true, t("10.0.0.1:80")));
  EXPECT_TRUE(target_refusal(own, true, t("localhost:80")));
  EXPECT_FALSE(target_refusal(own, true, t("8.8.8.8:53")));
  std::vector<boost::asio::ip::address> mixed{make_address("93.184.216.34"), make_address("10.0.0.1")};
  auto why = target_refusal(own, true, t("rebind.example:80"), mixed);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("10.0.0.1"), std::string::npos) << *why;
}

TEST(LimitsConfig, HardeningKeysLoadAndAreChecked) {
  auto doc = json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}},
      "limits": {"max_connections": 5, "max_connections_per_client": 2},
      "dns": {"max_concurrent_lookups": 7}, "deny_private_targets": true})");
  auto r = config::load_config(doc);
  ASSERT_TRUE(r.ok()) << r.errors.front().to_string();
  EXPECT_EQ(r.config->limits.max_connections, 5u);
  EXPECT_EQ(r.config->limits.max_connections_per_client, 2u);
  EXPECT_EQ(r.config->dns.max_concurrent_lookups, 7u);
  EXPECT_TRUE(r.config->deny_private_targets);

  auto defaults = config::load_config(json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}}})"));
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults.config->deny_private_targets);
  EXPECT_EQ(defaults.config->dns.max_concurrent_lookups, 256u);

  doc["deny_private_targets"] = "yes";
  doc["dns"]["max_concurrent_lookups"] = -1;
  auto bad = config::load_config(doc);
  ASSERT_FALSE(bad.ok());
  std::string all;
  for (auto& e : bad.errors) all += e.to_string() + "\n";
  EXPECT_NE(all.find("/deny_private_targets"), std::string::npos) << all;
  EXPECT_NE(all.find("/dns/max_concurrent_lookups"), std::string::npos) << all;
}

TEST(LimitsPermissions, WarnsAboutWorldReadableSecretsWithoutNamingThem) {
  auto dir = std::filesystem::temp_directory_path() / ("hopgate-perm-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = (dir / "hopgate.json").string();
  std::ofstream(file) << "{}";
  auto with_secrets = config::load_config(json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"},
      "admin": {"listen": "127.0.0.1:0", "token": "tok-XYZ-123"}},
      "users": [{"name": "alice", "password": "pw-ABC-987"}],
      "upstreams": {"up": "socks5://u:up-PASS-555@127.0.0.1:1080"}})"));
  ASSERT_TRUE(with_secrets.ok());
  auto without = config::load_config(json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}}})"));
  ASSERT_TRUE(without.ok());

  ::chmod(file.c_str(), 0644);
  auto w = config::config_permissions_warning(file, *with_secrets.config);
  ASSERT_TRUE(w);
  EXPECT_NE(w->find("0644"), std::string::npos) << *w;
  EXPECT_NE(w->find("user passwords, upstream credentials and the admin token"), std::string::npos) << *w;
  for (auto* secret : {"tok-XYZ-123", "pw-ABC-987", "up-PASS-555"}) EXPECT_EQ(w->find(secret), std::string::npos);
  EXPECT_FALSE(config::config_permissions_warning(file, *without.config));

  ::chmod(file.c_str(), 0640);
  EXPECT_FALSE(config::config_permissions_warning(file, *with_secrets.config));
  EXPECT_FALSE(config::config_permissions_warning((dir / "missing.json").string(), *with_secrets.config));
  EXPECT_FALSE(config::config_permissions_warning("", *with_secrets.config));
  std::filesystem::remove_all(dir);
}
