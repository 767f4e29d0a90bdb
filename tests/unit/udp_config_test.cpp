// The "udp" config section (SOCKS5 UDP ASSOCIATE relays): defaults, values, errors with paths.
#include "hopgate/config/loader.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using hopgate::config::load_config;
using nlohmann::json;

namespace {

json minimal() { return json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}}})"); }

std::vector<std::string> errors_of(const json& doc) {
  std::vector<std::string> out;
  for (auto& e : load_config(doc).errors) out.push_back(e.to_string());
  return out;
}

} // namespace

TEST(UdpConfig, Defaults) {
  auto r = load_config(minimal());
  ASSERT_TRUE(r.config.has_value());
  const auto& u = r.config->udp;
  EXPECT_FALSE(u.port_range.has_value());
  EXPECT_EQ(u.max_associations, 1024u);
  EXPECT_EQ(u.max_associations_per_client, 16u);
  EXPECT_EQ(u.max_datagram, 65507u);
  EXPECT_DOUBLE_EQ(u.idle_timeout.count(), 120.0);
}

TEST(UdpConfig, AllKeys) {
  auto doc = minimal();
  doc["udp"] = json::parse(R"({"port_range": "40000-40100", "max_associations": 50, "max_associations_per_client": 2,
                               "max_datagram": 1400, "idle_timeout": 30.5})");
  auto r = load_config(doc);
  ASSERT_TRUE(r.config.has_value()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const auto& u = r.config->udp;
  ASSERT_TRUE(u.port_range.has_value());
  EXPECT_EQ(u.port_range->first, 40000);
  EXPECT_EQ(u.port_range->last, 40100);
  EXPECT_EQ(u.max_associations, 50u);
  EXPECT_EQ(u.max_associations_per_client, 2u);
  EXPECT_EQ(u.max_datagram, 1400u);
  EXPECT_DOUBLE_EQ(u.idle_timeout.count(), 30.5);
}

TEST(UdpConfig, PortRangeNullOrSinglePort) {
  auto doc = minimal();
  doc["udp"] = json::parse(R"({"port_range": null})");
  auto r = load_config(doc);
  ASSERT_TRUE(r.config.has_value());
  EXPECT_FALSE(r.config->udp.port_range.has_value());

  doc["udp"] = json::parse(R"({"port_range": 40000})");
  r = load_config(doc);
  ASSERT_TRUE(r.config.has_value());
  ASSERT_TRUE(r.config->udp.port_range.has_value());
  EXPECT_EQ(r.config->udp.port_range->first, 40000);
  EXPECT_EQ(r.config->udp.port_range->last, 40000);
}

TEST(UdpConfig, ErrorsNameThePath) {
  auto doc = minimal();
  doc["udp"] = json::parse(R"({"port_range": "9-1", "max_datagram": 100, "idle_timeout": -1, "max_associations": "many",
                               "ports": 1})");
  auto errs = errors_of(doc);
  ASSERT_EQ(errs.size(), 5u) << ::testing::PrintToString(errs);
  EXPECT_EQ(errs[0], "/udp/ports: unknown key");
  EXPECT_NE(errs[1].find("/udp/port_range: bad port range \"9-1\""), std::string::npos) << errs[1];
  EXPECT_EQ(errs[2].rfind("/udp/max_associations: expected a non-negative integer", 0), 0u) << errs[2];
  EXPECT_EQ(errs[3], "/udp/max_datagram: must be at least 512");
  EXPECT_EQ(errs[4].rfind("/udp/idle_timeout: expected a non-negative number", 0), 0u) << errs[4];
}

TEST(UdpConfig, DatagramLimitHasACeiling) {
  auto doc = minimal();
  doc["udp"] = json::parse(R"({"max_datagram": 70000})");
  EXPECT_EQ(errors_of(doc), std::vector<std::string>{"/udp/max_datagram: must be at most 65507"});
}
