// Inputs the fuzz targets (tests/fuzz) found, kept as unit tests. Each comment says what was
// wrong before the fix.
#include "hopgate/codec/http_target.hpp"
#include "hopgate/codec/socks4.hpp"
#include "hopgate/codec/socks5.hpp"
#include "hopgate/config/config.hpp"
#include "hopgate/core/cidr.hpp"
#include "hopgate/core/target.hpp"

#include <gtest/gtest.h>

using namespace hopgate;
using boost::asio::ip::make_address;
using boost::system::error_code;
namespace s5 = hopgate::codec::socks5;
namespace s4 = hopgate::codec::socks4;
namespace hc = hopgate::codec::http;

// normalize_host dropped one trailing dot: "a.example.." became "a.example.", which compared
// unequal to its own normalisation and broke every decode -> encode -> decode round trip.
TEST(LimitsFuzzRegressions, NormalizeHostDropsEveryTrailingDot) {
  EXPECT_EQ(normalize_host("A.Example.."), "a.example");
  EXPECT_EQ(normalize_host("a.example."), "a.example");
  EXPECT_EQ(normalize_host("..."), "");
  for (auto* s : {"x..", "X.Y...", "a", ""}) EXPECT_EQ(normalize_host(normalize_host(s)), normalize_host(s)) << s;
}

// An IP literal with a trailing dot ("10.0.0.1.", "[::1].") was taken for a name: it slipped
// past IP rules (cidr matchers, deny_private_targets, own listeners) and reached upstream hops,
// which read it as the IP. A bracketed non-IP lost its brackets, so re-decoding changed it
// ("[[::1]]" became the name "[::1]", then the IP ::1).
TEST(LimitsFuzzRegressions, IpLiteralWithTrailingDotIsAnIp) {
  auto v4 = TargetAddress::from_host("10.0.0.1.", 80);
  ASSERT_TRUE(v4.ip);
  EXPECT_EQ(v4.ip->to_string(), "10.0.0.1");
  auto v6 = TargetAddress::from_host("[::1].", 80);
  ASSERT_TRUE(v6.ip);
  EXPECT_EQ(v6.ip->to_string(), "::1");
  // Brackets around something else are no host at all (every decoder refuses an empty name).
  auto bracketed = TargetAddress::from_host("[name].", 80);
  EXPECT_TRUE(bracketed.is_domain());
  EXPECT_EQ(bracketed.domain, "");

  // Through the SOCKS5 codec, as the fuzzer sent it: ATYP domain "[\xdd\xe8......]."
  std::vector<std::uint8_t> in{5, 1, 0, 3, 11, '[', 0xdd, 0xe8, '.', '.', '.', '.', '.', '.', ']', '.', 0, 80};
  s5::Request req;
  error_code ec;
  EXPECT_EQ(s5::decode_request(in, req, ec), 0u);
  EXPECT_EQ(ec, codec::CodecError::empty_domain);
  std::vector<std::uint8_t> nested{5, 1, 0, 3, 7, '[', '[', ':', ':', '1', ']', ']', 0, 80};
  EXPECT_EQ(s5::decode_request(nested, req, ec), 0u);

  std::vector<std::uint8_t> dotted{5, 1, 0, 3, 9, '1', '2', '7', '.', '0', '.', '1', '.', '.', 0, 80};
  dotted[4] = 9; // "127.0.1.." is not an IP (three parts): a name, normalised
  ASSERT_GT(s5::decode_request(dotted, req, ec), 0u);
  EXPECT_TRUE(req.target.is_domain());
  std::vector<std::uint8_t> ip_dot{5, 1, 0, 3, 10, '1', '2', '7', '.', '0', '.', '0', '.', '1', '.', 0, 80};
  ASSERT_GT(s5::decode_request(ip_dot, req, ec), 0u);
  ASSERT_TRUE(req.target.ip) << req.target.to_string();
  EXPECT_EQ(req.target.ip->to_string(), "127.0.0.1");
}

// SOCKS4a host "d.." decoded as "d." and re-encoded as "d" (same root cause as above).
TEST(LimitsFuzzRegressions, Socks4aHostRoundTrips) {
  std::vector<std::uint8_t> in{4, 1, 1, 0xbb, 0, 0, 0, 0xfd, 'g', 0, 'd', '.', '.', 0};
  s4::Request req;
  error_code ec;
  ASSERT_EQ(s4::decode_request(in, req, ec), in.size()) << ec.message();
  EXPECT_EQ(req.target.domain, "d");
  std::vector<std::uint8_t> out;
  s4::encode_request(out, s4::Command::connect, req.target, req.user_id, ec);
  ASSERT_FALSE(ec);
  s4::Request again;
  ASSERT_EQ(s4::decode_request(out, again, ec), out.size());
  EXPECT_EQ(again.target, req.target);
}

// CONNECT "htp0t..:1" parsed to a host that printed and re-parsed differently.
TEST(LimitsFuzzRegressions, AuthorityTargetRoundTrips) {
  error_code ec;
  auto t = hc::parse_authority_target("htp0t..:1", ec);
  if (t) {
    auto again = hc::parse_authority_target(t->authority.to_string(), ec);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->authority, t->authority);
  }
}

// "host:port" parsing accepted "." (and ".."), giving a target with an empty name.
TEST(LimitsFuzzRegressions, TargetWithoutHostIsRefused) {
  EXPECT_FALSE(TargetAddress::parse(".:0"));
  EXPECT_FALSE(TargetAddress::parse("..:80"));
  EXPECT_TRUE(TargetAddress::parse("a.:80"));
}

// A v4-mapped CIDR ("::ffff:10.0.0.0/104") stayed IPv6 while contains() compares mapped
// addresses as IPv4: it matched nothing, not even its own network, so in a deny list it failed
// open. It is now the IPv4 network it spells.
TEST(LimitsFuzzRegressions, MappedCidrIsItsIpv4Network) {
  auto c = Cidr::parse("::ffff:10.0.0.1/128");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(c->network));
  EXPECT_TRUE(c->contains(make_address("10.0.0.1")));
  auto net = Cidr::parse("::ffff:10.0.0.0/104");
  ASSERT_TRUE(net);
  EXPECT_EQ(net->to_string(), "10.0.0.0/8");
  EXPECT_TRUE(net->contains(make_address("10.1.2.3")));
  EXPECT_TRUE(net->contains(make_address("::ffff:10.1.2.3")));
  EXPECT_FALSE(net->contains(make_address("11.0.0.1")));
  // Below /96 it is an IPv6 prefix and stays one.
  auto wide = Cidr::parse("::ffff:0:0/95");
  ASSERT_TRUE(wide);
  EXPECT_TRUE(wide->network.is_v6());
}
