#include "hopgate/upstream/health.hpp"

#include <gtest/gtest.h>
#include <map>
#include <set>

using namespace hopgate;
using namespace hopgate::upstream;

namespace {
config::Group group(config::Group::Strategy s, std::vector<std::string> members) {
  config::Group g;
  g.strategy = s;
  g.members = std::move(members);
  g.max_fails = 2;
  return g;
}
} // namespace

TEST(UpstreamHealth, FailoverPrefersHealthyMembersInOrder) {
  Health::instance().reset();
  auto g = group(config::Group::Strategy::failover, {"ha", "hb", "hc"});
  EXPECT_EQ(order_members(g, "g", ""), (std::vector<std::string>{"ha", "hb", "hc"}));
  Health::instance().record_failure("ha", "refused", 2, std::chrono::seconds(30));
  EXPECT_TRUE(Health::instance().is_up("ha")) << "one failure is below max_fails";
  Health::instance().record_failure("ha", "refused", 2, std::chrono::seconds(30));
  EXPECT_FALSE(Health::instance().is_up("ha"));
  EXPECT_EQ(order_members(g, "g", ""), (std::vector<std::string>{"hb", "hc", "ha"}));
  Health::instance().record_success("ha", std::chrono::milliseconds(3));
  EXPECT_TRUE(Health::instance().is_up("ha"));
  EXPECT_EQ(order_members(g, "g", "").front(), "ha");
}

TEST(UpstreamHealth, RoundRobinSpreadsEvenly) {
  Health::instance().reset();
  auto g = group(config::Group::Strategy::round_robin, {"r1", "r2", "r3"});
  std::map<std::string, int> count;
  for (int i = 0; i < 3000; ++i) ++count[order_members(g, "g", "").front()];
  for (auto& [name, n] : count) EXPECT_EQ(n, 1000) << name;
}

TEST(UpstreamHealth, HashIsStablePerKey) {
  Health::instance().reset();
  auto g = group(config::Group::Strategy::hash, {"x1", "x2", "x3"});
  auto first = order_members(g, "g", "example.com:443").front();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order_members(g, "g", "example.com:443").front(), first);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(order_members(g, "g", "host" + std::to_string(i) + ":80").front());
  EXPECT_EQ(seen.size(), 3u);
}

TEST(UpstreamHealth, LeastConnectionsPicksTheIdlest) {
  Health::instance().reset();
  auto g = group(config::Group::Strategy::least_connections, {"l1", "l2"});
  auto hold = Health::instance().hold("l1");
  EXPECT_EQ(order_members(g, "g", "").front(), "l2");
  hold.reset();
  auto hold2 = Health::instance().hold("l2");
  EXPECT_EQ(order_members(g, "g", "").front(), "l1");
}

TEST(UpstreamHealth, DownMemberIsRetriedAfterBackoff) {
  Health::instance().reset();
  Health::instance().record_failure("d1", "refused", 1, std::chrono::seconds(30));
  EXPECT_FALSE(Health::instance().available("d1"));
  auto v = Health::instance().view();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].up);
  EXPECT_GT(v[0].retry_in_s, 0.0);
  EXPECT_EQ(v[0].last_error, "refused");
}
