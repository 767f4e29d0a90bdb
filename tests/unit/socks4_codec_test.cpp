// SOCKS4 / SOCKS4a codecs: byte-exact encodings, round trips, every message split at every
// offset, and malformed inputs with their exact error (notably the NUL-terminated fields, which
// have no length prefix and must be bounded).
#include "hopgate/codec/socks4.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace hopgate;
using namespace hopgate::codec;
using boost::system::error_code;
using Bytes = std::vector<std::uint8_t>;
using boost::asio::ip::make_address_v4;

error_code err(CodecError e) { return make_error_code(e); }

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes str(std::string_view s) { return Bytes(s.begin(), s.end()); }

TargetAddress ip_target(const char* ip, std::uint16_t port) {
  return TargetAddress::from_ip(boost::asio::ip::make_address(ip), port);
}

TargetAddress domain_target(std::string name, std::uint16_t port) {
  TargetAddress t;
  t.domain = std::move(name);
  t.port = port;
  return t;
}

const Bytes trailing = {0x04, 0x01, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 'x'};

// Every prefix must be need_more consuming nothing; the whole (and the whole plus trailing
// bytes) must consume exactly the message. Returns the value decoded from the whole.
template <class T>
T decode_split(const Bytes& wire, std::size_t (*decode)(std::span<const std::uint8_t>, T&, error_code&)) {
  for (std::size_t cut = 0; cut < wire.size(); ++cut) {
    T partial{};
    error_code ec;
    EXPECT_EQ(decode(std::span(wire.data(), cut), partial, ec), 0u) << "cut at " << cut;
    EXPECT_EQ(ec, err(CodecError::need_more)) << "cut at " << cut << ": " << ec.message();
  }
  T whole{};
  error_code ec = err(CodecError::bad_field); // a stale error must be cleared on success
  EXPECT_EQ(decode(wire, whole, ec), wire.size());
  EXPECT_FALSE(ec) << ec.message();

  T again{};
  const Bytes longer = wire + trailing;
  EXPECT_EQ(decode(longer, again, ec), wire.size());
  EXPECT_FALSE(ec) << ec.message();
  return whole;
}

struct BadCase {
  const char* name;
  Bytes wire;
  CodecError want;
};

template <class T>
void expect_errors(const std::vector<BadCase>& cases,
                   std::size_t (*decode)(std::span<const std::uint8_t>, T&, error_code&)) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    T out{};
    error_code ec;
    EXPECT_EQ(decode(c.wire, out, ec), 0u);
    EXPECT_EQ(ec, err(c.want)) << ec.message();
    if (c.want != CodecError::need_more) { // a hard error stays one as more bytes arrive
      Bytes more = c.wire + Bytes(300, 0x00);
      EXPECT_EQ(decode(more, out, ec), 0u);
      EXPECT_EQ(ec, err(c.want)) << ec.message();
    }
  }
}

Bytes encode_ok(socks4::Command cmd, const TargetAddress& t, std::string_view user) {
  Bytes wire;
  error_code ec = err(CodecError::bad_field);
  socks4::encode_request(wire, cmd, t, user, ec);
  EXPECT_FALSE(ec) << ec.message();
  return wire;
}

// ---- request --------------------------------------------------------------------------------

TEST(Socks4Request, Socks4aByteExact) {
  const Bytes expected =
      Bytes{0x04, 0x01, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 'u', 0x00} + str("example.com") + Bytes{0x00};
  EXPECT_EQ(encode_ok(socks4::Command::connect, domain_target("example.com", 80), "u"), expected);
}

TEST(Socks4Request, Socks4ByteExact) {
  EXPECT_EQ(encode_ok(socks4::Command::connect, ip_target("192.0.2.7", 8080), ""),
            (Bytes{0x04, 0x01, 0x1F, 0x90, 192, 0, 2, 7, 0x00}));
  EXPECT_EQ(encode_ok(socks4::Command::bind, ip_target("10.0.0.1", 21), "bob"),
            (Bytes{0x04, 0x02, 0x00, 0x15, 10, 0, 0, 1, 'b', 'o', 'b', 0x00}));
}

TEST(Socks4Request, EncoderAppends) {
  Bytes wire = {0xAA};
  error_code ec;
  socks4::encode_request(wire, socks4::Command::connect, ip_target("1.2.3.4", 1), "", ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(wire, (Bytes{0xAA, 0x04, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0x00}));
}

TEST(Socks4Request, RoundTripsSocks4) {
  for (auto cmd : {socks4::Command::connect, socks4::Command::bind}) {
    for (const auto& t : {ip_target("1.2.3.4", 80), ip_target("0.0.0.0", 0), ip_target("255.255.255.255", 65535)}) {
      for (std::string user : {std::string(), std::string("alice"), std::string(255, 'u')}) {
        SCOPED_TRACE(t.to_string() + " user of " + std::to_string(user.size()));
        auto r = decode_split(encode_ok(cmd, t, user), &socks4::decode_request);
        EXPECT_EQ(r.command, static_cast<std::uint8_t>(cmd));
        EXPECT_EQ(r.target, t);
        EXPECT_EQ(r.user_id, user);
        EXPECT_FALSE(r.socks4a);
      }
    }
  }
}

TEST(Socks4Request, RoundTripsSocks4a) {
  for (const auto& t : {domain_target("example.com", 80), domain_target(std::string(255, 'h'), 1),
                        domain_target("a", 65535)}) {
    for (std::string user : {std::string(), std::string("u"), std::string(255, 'u')}) {
      SCOPED_TRACE(t.to_string() + " user of " + std::to_string(user.size()));
      auto r = decode_split(encode_ok(socks4::Command::connect, t, user), &socks4::decode_request);
      EXPECT_EQ(r.command, 0x01);
      EXPECT_EQ(r.target, t);
      EXPECT_EQ(r.user_id, user);
      EXPECT_TRUE(r.socks4a);
    }
  }
}

// 0.0.0.x (x != 0) is the 4a marker, so such an IPv4 target is sent as a 4a host literal.
TEST(Socks4Request, MarkerLikeIpv4TravelsAsHostLiteral) {
  const auto t = ip_target("0.0.0.5", 80);
  auto wire = encode_ok(socks4::Command::connect, t, "");
  const Bytes expected = Bytes{0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0x00} + str("0.0.0.5") + Bytes{0x00};
  EXPECT_EQ(wire, expected);
  auto r = decode_split(wire, &socks4::decode_request);
  EXPECT_EQ(r.target, t);
  EXPECT_TRUE(r.socks4a);
}

TEST(Socks4Request, Socks4aHostIsNormalisedAndIpLiteralBecomesIp) {
  auto decode_host = [](std::string_view host) {
    Bytes wire = Bytes{0x04, 0x01, 0x01, 0xBB, 0, 0, 0, 0xFF, 'u', 0x00} + str(host) + Bytes{0x00};
    auto r = decode_split(wire, &socks4::decode_request);
    EXPECT_TRUE(r.socks4a);
    return r.target;
  };
  EXPECT_EQ(decode_host("WWW.Example.org."), domain_target("www.example.org", 443));
  EXPECT_EQ(decode_host("10.0.0.1"), ip_target("10.0.0.1", 443));
  EXPECT_TRUE(decode_host("2001:db8::1").is_ipv6());
}

TEST(Socks4Request, KeepsUnknownCommandRaw) {
  auto r = decode_split(Bytes{0x04, 0x07, 0x00, 0x50, 1, 2, 3, 4, 0x00}, &socks4::decode_request);
  EXPECT_EQ(r.command, 0x07);
}

TEST(Socks4Request, Malformed) {
  const Bytes header = {0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4};
  const Bytes header_4a = {0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1};
  expect_errors<socks4::Request>(
      {
          {"bad version from the first byte", {0x05}, CodecError::bad_version},
          {"socks5 greeting", {0x05, 0x01, 0x00}, CodecError::bad_version},
          {"http", str("CONNECT example.com:443 HTTP/1.1\r\n"), CodecError::bad_version},
          {"truncated header", {0x04, 0x01, 0x00, 0x50, 1, 2}, CodecError::need_more},
          {"userid without NUL yet", header + str("user"), CodecError::need_more},
          {"255-byte userid without NUL yet", header + Bytes(255, 'u'), CodecError::need_more},
          {"256-byte userid without NUL", header + Bytes(256, 'u'), CodecError::field_too_long},
          {"256-byte userid with NUL", header + Bytes(256, 'u') + Bytes{0x00}, CodecError::field_too_long},
          {"4a: no host yet", header_4a + Bytes{'u', 0x00}, CodecError::need_more},
          {"4a: host without NUL yet", header_4a + Bytes{'u', 0x00} + str("example"), CodecError::need_more},
          {"4a: 255-byte host without NUL yet", header_4a + Bytes{0x00} + Bytes(255, 'h'), CodecError::need_more},
          {"4a: 256-byte host without NUL", header_4a + Bytes{0x00} + Bytes(256, 'h'), CodecError::field_too_long},
          {"4a: 300-byte host without NUL", header_4a + Bytes{'u', 0x00} + Bytes(300, 'h'),
           CodecError::field_too_long},
          {"4a: 256-byte userid without NUL", header_4a + Bytes(256, 'u'), CodecError::field_too_long},
          {"4a: empty host", header_4a + Bytes{'u', 0x00, 0x00}, CodecError::empty_domain},
          {"4a: empty host, empty user", header_4a + Bytes{0x00, 0x00}, CodecError::empty_domain},
          {"4a: host is only a dot", header_4a + Bytes{0x00, '.', 0x00}, CodecError::empty_domain},
      },
      &socks4::decode_request);
}

TEST(Socks4Request, EncodeRejectsWhatCannotBeSentAppendingNothing) {
  struct Case {
    const char* name;
    TargetAddress target;
    std::string user;
    CodecError want;
  };
  const std::vector<Case> cases = {
      {"ipv6 target", ip_target("::1", 80), "", CodecError::bad_address_type},
      {"v4-mapped ipv6 target", ip_target("::ffff:1.2.3.4", 80), "", CodecError::bad_address_type},
      {"256-byte userid", ip_target("1.2.3.4", 80), std::string(256, 'u'), CodecError::field_too_long},
      {"256-byte host", domain_target(std::string(256, 'h'), 80), "", CodecError::field_too_long},
      {"empty host", domain_target("", 80), "u", CodecError::empty_domain},
      {"NUL in userid", ip_target("1.2.3.4", 80), std::string("a\0b", 3), CodecError::bad_field},
      {"NUL in host", domain_target(std::string("a\0b", 3), 80), "", CodecError::bad_field},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Bytes wire = {0xAA};
    error_code ec;
    socks4::encode_request(wire, socks4::Command::connect, c.target, c.user, ec);
    EXPECT_EQ(ec, err(c.want));
    EXPECT_EQ(wire, Bytes{0xAA});
  }
}

// ---- reply ----------------------------------------------------------------------------------

TEST(Socks4Reply, ByteExact) {
  Bytes wire;
  socks4::encode_reply(wire, socks4::Reply::granted, make_address_v4("0.0.0.0"), 0);
  EXPECT_EQ(wire, (Bytes{0x00, 0x5A, 0, 0, 0, 0, 0, 0}));
  wire.clear();
  socks4::encode_reply(wire, socks4::Reply::rejected, make_address_v4("10.0.0.1"), 8080);
  EXPECT_EQ(wire, (Bytes{0x00, 0x5B, 0x1F, 0x90, 10, 0, 0, 1}));
}

TEST(Socks4Reply, RoundTripsEveryCode) {
  for (auto code : {socks4::Reply::granted, socks4::Reply::rejected, socks4::Reply::no_identd,
                    socks4::Reply::identd_mismatch}) {
    Bytes wire;
    socks4::encode_reply(wire, code, make_address_v4("192.0.2.9"), 4321);
    auto r = decode_split(wire, &socks4::decode_reply);
    EXPECT_EQ(r.reply, static_cast<std::uint8_t>(code));
    EXPECT_EQ(r.ip, make_address_v4("192.0.2.9"));
    EXPECT_EQ(r.port, 4321);
  }
}

TEST(Socks4Reply, AcceptsVersion4) {
  auto r = decode_split(Bytes{0x04, 0x5A, 0x00, 0x50, 1, 2, 3, 4}, &socks4::decode_reply);
  EXPECT_EQ(r.reply, 0x5A);
  EXPECT_EQ(r.ip, make_address_v4("1.2.3.4"));
  EXPECT_EQ(r.port, 80);
}

TEST(Socks4Reply, Malformed) {
  expect_errors<socks4::ReplyMessage>(
      {
          {"bad version from the first byte", {0x05}, CodecError::bad_version},
          {"socks5 reply", {0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0}, CodecError::bad_version},
          {"undefined code from the second byte", {0x00, 0x00}, CodecError::bad_reply},
          {"code below range", {0x00, 0x59, 0, 0, 0, 0, 0, 0}, CodecError::bad_reply},
          {"code above range", {0x00, 0x5E, 0, 0, 0, 0, 0, 0}, CodecError::bad_reply},
          {"truncated", {0x00, 0x5A, 0x00, 0x50, 1}, CodecError::need_more},
      },
      &socks4::decode_reply);
}

// ---- robustness -----------------------------------------------------------------------------

TEST(Socks4Codec, RandomInputKeepsTheContract) {
  std::mt19937 rng(1994);
  for (int i = 0; i < 20000; ++i) {
    Bytes in(rng() % 300);
    for (auto& b : in) b = static_cast<std::uint8_t>(rng() % 16 == 0 ? 0 : rng());
    if (!in.empty() && rng() % 4) in[0] = static_cast<std::uint8_t>(rng() % 2 ? 0x04 : 0x00);
    if (in.size() > 7 && rng() % 2) in[4] = in[5] = in[6] = 0;
    error_code ec;
    socks4::Request rq;
    auto n = socks4::decode_request(in, rq, ec);
    EXPECT_LE(n, in.size());
    EXPECT_EQ(n == 0, static_cast<bool>(ec));
    if (!ec) {
      EXPECT_LE(rq.user_id.size(), socks4::max_field);
      if (rq.socks4a && rq.target.is_domain()) {
        EXPECT_LE(rq.target.domain.size(), socks4::max_field);
      }
    }
    socks4::ReplyMessage rp;
    n = socks4::decode_reply(in, rp, ec);
    EXPECT_LE(n, in.size());
    EXPECT_EQ(n == 0, static_cast<bool>(ec));
  }
}

} // namespace
