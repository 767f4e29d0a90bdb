// SOCKS5 / RFC 1929 codecs: byte-exact encodings, round trips, every message split at every
// offset (a TCP read can end anywhere), and a corpus of malformed inputs with their exact error.
#include "hopgate/codec/socks5.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace hopgate;
using namespace hopgate::codec;
using boost::system::error_code;
using Bytes = std::vector<std::uint8_t>;

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

// Bytes that look like the start of another message, to prove the decoder stops at its end.
const Bytes trailing = {0x05, 0x01, 0x00, 0x03, 0xFF};

// Decodes `wire` cut at every offset (each prefix must be need_more and consume nothing), whole
// (consumes all, clears ec) and with trailing bytes (consumes exactly the message). Returns the
// value decoded from the whole message.
template <class T>
T decode_split(const Bytes& wire, std::size_t (*decode)(std::span<const std::uint8_t>, T&, error_code&)) {
  for (std::size_t cut = 0; cut < wire.size(); ++cut) {
    T partial{};
    error_code ec;
    EXPECT_EQ(decode(std::span(wire.data(), cut), partial, ec), 0u) << "cut at " << cut;
    EXPECT_EQ(ec, err(CodecError::need_more)) << "cut at " << cut;
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

// Each case must fail with exactly `want` and consume nothing; a hard error must also survive
// more bytes arriving (the decoder may not "recover" into success later).
template <class T>
void expect_errors(const std::vector<BadCase>& cases,
                   std::size_t (*decode)(std::span<const std::uint8_t>, T&, error_code&)) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    T out{};
    error_code ec;
    EXPECT_EQ(decode(c.wire, out, ec), 0u);
    EXPECT_EQ(ec, err(c.want)) << ec.message();
    if (c.want != CodecError::need_more) {
      Bytes more = c.wire + Bytes(300, 0x41);
      EXPECT_EQ(decode(more, out, ec), 0u);
      EXPECT_EQ(ec, err(c.want)) << ec.message();
    }
  }
}

// ---- error category -------------------------------------------------------------------------

TEST(CodecError, CategoryAndMessages) {
  EXPECT_STREQ(codec_error_category().name(), "hopgate.codec");
  EXPECT_EQ(err(CodecError::need_more).message(), "need more input");
  EXPECT_EQ(err(CodecError::bad_version).message(), "bad version");
  for (int v = static_cast<int>(CodecError::need_more); v <= static_cast<int>(CodecError::bad_reply); ++v) {
    auto m = codec_error_category().message(v);
    EXPECT_FALSE(m.empty());
    EXPECT_NE(m, "unknown codec error") << v;
    for (char ch : m) EXPECT_FALSE(ch >= 'A' && ch <= 'Z') << m;
  }
  error_code ec = CodecError::empty_domain; // is_error_code_enum lets the enum convert
  EXPECT_EQ(ec, CodecError::empty_domain);
  EXPECT_EQ(&ec.category(), &codec_error_category());
}

// ---- greeting and method selection ----------------------------------------------------------

TEST(Socks5Greeting, EncodesByteExactAndRoundTrips) {
  const socks5::Method methods[] = {socks5::Method::no_auth, socks5::Method::user_pass};
  Bytes wire;
  socks5::encode_greeting(wire, methods);
  EXPECT_EQ(wire, (Bytes{0x05, 0x02, 0x00, 0x02}));
  auto g = decode_split(wire, &socks5::decode_greeting);
  EXPECT_EQ(g.methods, (Bytes{0x00, 0x02}));
}

TEST(Socks5Greeting, EncoderAppends) {
  Bytes wire = {0xAA};
  const socks5::Method one[] = {socks5::Method::no_auth};
  socks5::encode_greeting(wire, one);
  EXPECT_EQ(wire, (Bytes{0xAA, 0x05, 0x01, 0x00}));
}

TEST(Socks5Greeting, KeepsUnknownMethodsRaw) {
  Bytes wire = {0x05, 0x03, 0x00, 0x80, 0xFE};
  auto g = decode_split(wire, &socks5::decode_greeting);
  EXPECT_EQ(g.methods, (Bytes{0x00, 0x80, 0xFE}));
}

TEST(Socks5Greeting, MaxMethods) {
  Bytes wire = {0x05, 0xFF};
  for (int i = 0; i < 255; ++i) wire.push_back(static_cast<std::uint8_t>(i));
  auto g = decode_split(wire, &socks5::decode_greeting);
  EXPECT_EQ(g.methods.size(), 255u);
}

TEST(Socks5Greeting, Malformed) {
  expect_errors<socks5::Greeting>(
      {
          {"bad version from the first byte", {0x04}, CodecError::bad_version},
          {"socks4 request", {0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4, 0}, CodecError::bad_version},
          {"http", str("GET / HTTP/1.1\r\n"), CodecError::bad_version},
          {"zero methods", {0x05, 0x00}, CodecError::no_methods},
          {"zero methods with more", {0x05, 0x00, 0x00}, CodecError::no_methods},
          {"truncated methods", {0x05, 0x03, 0x00, 0x02}, CodecError::need_more},
      },
      &socks5::decode_greeting);
}

TEST(Socks5MethodSelection, EncodesByteExactAndRoundTrips) {
  for (auto m : {socks5::Method::no_auth, socks5::Method::user_pass, socks5::Method::no_acceptable}) {
    Bytes wire;
    socks5::encode_method_selection(wire, m);
    EXPECT_EQ(wire, (Bytes{0x05, static_cast<std::uint8_t>(m)}));
    EXPECT_EQ(decode_split(wire, &socks5::decode_method_selection), m);
  }
}

TEST(Socks5MethodSelection, Malformed) {
  expect_errors<socks5::Method>({{"bad version", {0x01}, CodecError::bad_version},
                                 {"bad version full", {0x04, 0x00}, CodecError::bad_version}},
                                &socks5::decode_method_selection);
}

// ---- RFC 1929 -------------------------------------------------------------------------------

TEST(Socks5UserPass, RequestByteExactAndRoundTrip) {
  Bytes wire;
  error_code ec = err(CodecError::bad_field);
  socks5::encode_userpass_request(wire, {"u", "pw"}, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(wire, (Bytes{0x01, 0x01, 'u', 0x02, 'p', 'w'}));
  auto r = decode_split(wire, &socks5::decode_userpass_request);
  EXPECT_EQ(r.username, "u");
  EXPECT_EQ(r.password, "pw");
}

TEST(Socks5UserPass, RoundTripsEmptyMaxAndBinaryFields) {
  const std::vector<socks5::UserPassRequest> reqs = {
      {"", ""},
      {std::string(255, 'u'), std::string(255, 'p')},
      {std::string("a\0b", 3), std::string("\xff\x00\x01", 3)},
  };
  for (const auto& req : reqs) {
    Bytes wire;
    error_code ec;
    socks5::encode_userpass_request(wire, req, ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(wire.size(), 3 + req.username.size() + req.password.size());
    auto r = decode_split(wire, &socks5::decode_userpass_request);
    EXPECT_EQ(r.username, req.username);
    EXPECT_EQ(r.password, req.password);
  }
}

TEST(Socks5UserPass, EncodeRejectsOversizedFieldsAppendingNothing) {
  for (const socks5::UserPassRequest& req :
       {socks5::UserPassRequest{std::string(256, 'u'), "p"}, socks5::UserPassRequest{"u", std::string(256, 'p')}}) {
    Bytes wire = {0xAA};
    error_code ec;
    socks5::encode_userpass_request(wire, req, ec);
    EXPECT_EQ(ec, err(CodecError::field_too_long));
    EXPECT_EQ(wire, Bytes{0xAA});
  }
}

TEST(Socks5UserPass, ReplyByteExactAndRoundTrip) {
  for (std::uint8_t status : {0x00, 0x01, 0xFF}) {
    Bytes wire;
    socks5::encode_userpass_reply(wire, status);
    EXPECT_EQ(wire, (Bytes{0x01, status}));
    EXPECT_EQ(decode_split(wire, &socks5::decode_userpass_reply), status);
  }
}

TEST(Socks5UserPass, Malformed) {
  expect_errors<socks5::UserPassRequest>(
      {
          {"socks version instead of 1", {0x05}, CodecError::bad_auth_version},
          {"version 0", {0x00, 0x01, 'u', 0x01, 'p'}, CodecError::bad_auth_version},
          {"truncated username", {0x01, 0x05, 'u', 's'}, CodecError::need_more},
          {"missing password length", {0x01, 0x01, 'u'}, CodecError::need_more},
          {"truncated password", {0x01, 0x01, 'u', 0x03, 'p'}, CodecError::need_more},
      },
      &socks5::decode_userpass_request);
  expect_errors<std::uint8_t>({{"socks version instead of 1", {0x05, 0x00}, CodecError::bad_auth_version},
                               {"bad version from the first byte", {0x02}, CodecError::bad_auth_version}},
                              &socks5::decode_userpass_reply);
}

// ---- request --------------------------------------------------------------------------------

TEST(Socks5Request, ConnectDomainByteExact) {
  Bytes wire;
  error_code ec;
  socks5::encode_request(wire, socks5::Command::connect, domain_target("example.com", 80), ec);
  ASSERT_FALSE(ec);
  const Bytes expected = Bytes{0x05, 0x01, 0x00, 0x03, 0x0B} + str("example.com") + Bytes{0x00, 0x50};
  EXPECT_EQ(wire, expected);
}

TEST(Socks5Request, ConnectIpv4AndIpv6ByteExact) {
  Bytes v4;
  error_code ec;
  socks5::encode_request(v4, socks5::Command::connect, ip_target("192.0.2.1", 443), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(v4, (Bytes{0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0x01, 0xBB}));

  Bytes v6;
  socks5::encode_request(v6, socks5::Command::udp_associate, ip_target("2001:db8::1", 0x1234), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(v6, (Bytes{0x05, 0x03, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                       0x12, 0x34}));
}

TEST(Socks5Request, RoundTripsEveryAddressTypeAndCommand) {
  const std::vector<TargetAddress> targets = {
      domain_target("example.com", 80),
      domain_target(std::string(255, 'a'), 65535),
      domain_target("x", 0),
      ip_target("10.1.2.3", 8080),
      ip_target("0.0.0.0", 0),
      ip_target("::1", 22),
      ip_target("::ffff:1.2.3.4", 1), // v4-mapped stays IPv6: routing sees what was asked
  };
  for (auto cmd : {socks5::Command::connect, socks5::Command::bind, socks5::Command::udp_associate}) {
    for (const auto& t : targets) {
      SCOPED_TRACE(t.to_string());
      Bytes wire;
      error_code ec;
      socks5::encode_request(wire, cmd, t, ec);
      ASSERT_FALSE(ec);
      auto r = decode_split(wire, &socks5::decode_request);
      EXPECT_EQ(r.command, static_cast<std::uint8_t>(cmd));
      EXPECT_EQ(r.target, t);
    }
  }
}

TEST(Socks5Request, DomainIsNormalisedAndIpLiteralBecomesIp) {
  auto decode_domain = [](std::string_view name) {
    Bytes wire = Bytes{0x05, 0x01, 0x00, 0x03, static_cast<std::uint8_t>(name.size())} + str(name) + Bytes{0, 80};
    return decode_split(wire, &socks5::decode_request).target;
  };
  EXPECT_EQ(decode_domain("Example.COM."), domain_target("example.com", 80));
  auto ip = decode_domain("1.2.3.4");
  EXPECT_TRUE(ip.is_ipv4());
  EXPECT_EQ(ip, ip_target("1.2.3.4", 80));
  EXPECT_TRUE(decode_domain("::1").is_ipv6());
}

TEST(Socks5Request, KeepsUnknownCommandRawAndIgnoresReserved) {
  Bytes wire = {0x05, 0x09, 0x7F, 0x01, 127, 0, 0, 1, 0x00, 0x50};
  auto r = decode_split(wire, &socks5::decode_request);
  EXPECT_EQ(r.command, 0x09);
  EXPECT_EQ(r.target, ip_target("127.0.0.1", 80));
}

TEST(Socks5Request, Malformed) {
  const Bytes example = Bytes{0x05, 0x01, 0x00, 0x03, 0x0B} + str("example.com") + Bytes{0x00, 0x50};
  expect_errors<socks5::Request>(
      {
          {"bad version from the first byte", {0x04}, CodecError::bad_version},
          {"bad version, rest valid", Bytes{0x04} + Bytes(example.begin() + 1, example.end()),
           CodecError::bad_version},
          {"greeting-like version 0", {0x00, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0, 80}, CodecError::bad_version},
          {"atyp 0", {0x05, 0x01, 0x00, 0x00}, CodecError::bad_address_type},
          {"atyp 2", {0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80}, CodecError::bad_address_type},
          {"atyp 5", {0x05, 0x01, 0x00, 0x05}, CodecError::bad_address_type},
          {"atyp ff", {0x05, 0x01, 0x00, 0xFF}, CodecError::bad_address_type},
          {"empty domain, port missing", {0x05, 0x01, 0x00, 0x03, 0x00}, CodecError::empty_domain},
          {"empty domain", {0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50}, CodecError::empty_domain},
          {"domain is only a dot", {0x05, 0x01, 0x00, 0x03, 0x01, '.', 0x00, 0x50}, CodecError::empty_domain},
          {"domain is []", {0x05, 0x01, 0x00, 0x03, 0x02, '[', ']', 0x00, 0x50}, CodecError::empty_domain},
          {"NUL inside domain, rest missing", {0x05, 0x01, 0x00, 0x03, 0x05, 'a', 0x00}, CodecError::bad_field},
          {"NUL inside domain", Bytes{0x05, 0x01, 0x00, 0x03, 0x03, 'a', 0x00, 'b', 0x00, 0x50},
           CodecError::bad_field},
          {"NUL ends domain", Bytes{0x05, 0x01, 0x00, 0x03, 0x02, 'a', 0x00, 0x00, 0x50}, CodecError::bad_field},
          {"truncated ipv4", {0x05, 0x01, 0x00, 0x01, 1, 2, 3}, CodecError::need_more},
          {"truncated port", {0x05, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0}, CodecError::need_more},
          {"truncated ipv6", {0x05, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0}, CodecError::need_more},
          {"truncated domain", {0x05, 0x01, 0x00, 0x03, 0x0B, 'e', 'x'}, CodecError::need_more},
      },
      &socks5::decode_request);
}

TEST(Socks5Request, DecodeLeavesOutputAloneOnError) {
  socks5::Request r;
  r.command = 0x42;
  r.target = domain_target("keep.me", 1);
  const Bytes wire = {0x05, 0x01, 0x00, 0x03, 0x03, 'a', 0x00, 'b', 0x00, 0x50};
  error_code ec;
  EXPECT_EQ(socks5::decode_request(wire, r, ec), 0u);
  EXPECT_EQ(r.command, 0x42);
  EXPECT_EQ(r.target, domain_target("keep.me", 1));
}

TEST(Socks5Request, EncodeRejectsBadDomainsAppendingNothing) {
  struct Case {
    std::string domain;
    CodecError want;
  };
  for (const auto& c : {Case{std::string(256, 'a'), CodecError::field_too_long}, Case{"", CodecError::empty_domain},
                        Case{std::string("a\0b", 3), CodecError::bad_field}}) {
    Bytes wire = {0xAA};
    error_code ec;
    socks5::encode_request(wire, socks5::Command::connect, domain_target(c.domain, 80), ec);
    EXPECT_EQ(ec, err(c.want));
    EXPECT_EQ(wire, Bytes{0xAA});
  }
}

// ---- reply ----------------------------------------------------------------------------------

TEST(Socks5Reply, ByteExactAndRoundTrip) {
  Bytes wire;
  socks5::encode_reply(wire, socks5::Reply::succeeded, ip_target("127.0.0.1", 1080));
  EXPECT_EQ(wire, (Bytes{0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x04, 0x38}));
  auto r = decode_split(wire, &socks5::decode_reply);
  EXPECT_EQ(r.reply, 0x00);
  EXPECT_EQ(r.bound, ip_target("127.0.0.1", 1080));

  const std::vector<TargetAddress> bounds = {ip_target("0.0.0.0", 0), ip_target("fe80::1", 9),
                                             domain_target("proxy.example", 1)};
  for (auto code : {socks5::Reply::general_failure, socks5::Reply::connection_refused,
                    socks5::Reply::address_type_not_supported}) {
    for (const auto& b : bounds) {
      Bytes w;
      socks5::encode_reply(w, code, b);
      auto d = decode_split(w, &socks5::decode_reply);
      EXPECT_EQ(d.reply, static_cast<std::uint8_t>(code));
      EXPECT_EQ(d.bound, b);
    }
  }
}

TEST(Socks5Reply, AnyReplyCodeDecodes) {
  Bytes wire = {0x05, 0xEE, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(decode_split(wire, &socks5::decode_reply).reply, 0xEE);
}

TEST(Socks5Reply, UnencodableDomainFallsBackToUnspecifiedAddress) {
  Bytes wire;
  socks5::encode_reply(wire, socks5::Reply::succeeded, domain_target(std::string(300, 'a'), 7));
  EXPECT_EQ(wire, (Bytes{0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x07}));
}

TEST(Socks5Reply, Malformed) {
  expect_errors<socks5::ReplyMessage>(
      {
          {"bad version from the first byte", {0x00}, CodecError::bad_version},
          {"socks4 reply", {0x00, 0x5A, 0, 0, 0, 0, 0, 0}, CodecError::bad_version},
          {"bad atyp", {0x05, 0x00, 0x00, 0x07}, CodecError::bad_address_type},
          {"empty domain", {0x05, 0x00, 0x00, 0x03, 0x00}, CodecError::empty_domain},
          {"NUL inside domain", {0x05, 0x00, 0x00, 0x03, 0x02, 0x00}, CodecError::bad_field},
          {"truncated", {0x05, 0x00, 0x00, 0x04, 0, 0}, CodecError::need_more},
      },
      &socks5::decode_reply);
}

// ---- UDP header -----------------------------------------------------------------------------

TEST(Socks5Udp, ByteExactAndRoundTripWithPayload) {
  Bytes wire;
  socks5::encode_udp_header(wire, ip_target("1.2.3.4", 53));
  EXPECT_EQ(wire, (Bytes{0x00, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x35}));

  for (const auto& t : {ip_target("1.2.3.4", 53), ip_target("2001:db8::53", 53), domain_target("dns.example", 53)}) {
    Bytes dgram;
    socks5::encode_udp_header(dgram, t);
    const auto header_len = dgram.size();
    dgram = dgram + str("payload");
    socks5::UdpHeader h;
    error_code ec = err(CodecError::need_more);
    EXPECT_EQ(socks5::decode_udp_header(dgram, h, ec), header_len);
    EXPECT_FALSE(ec);
    EXPECT_EQ(h.frag, 0);
    EXPECT_EQ(h.target, t);
  }
}

TEST(Socks5Udp, FragIsReturnedAsIs) {
  const Bytes dgram = {0x00, 0x00, 0x03, 0x01, 10, 0, 0, 1, 0x00, 0x35, 'x'};
  socks5::UdpHeader h;
  error_code ec;
  EXPECT_EQ(socks5::decode_udp_header(dgram, h, ec), 10u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(h.frag, 3);
  EXPECT_EQ(h.target, ip_target("10.0.0.1", 53));
}

TEST(Socks5Udp, EveryShortDatagramIsBadFieldNotNeedMore) {
  Bytes full;
  socks5::encode_udp_header(full, domain_target("example.com", 53));
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    socks5::UdpHeader h;
    error_code ec;
    EXPECT_EQ(socks5::decode_udp_header(std::span(full.data(), cut), h, ec), 0u) << cut;
    EXPECT_EQ(ec, err(CodecError::bad_field)) << cut;
  }
}

TEST(Socks5Udp, Malformed) {
  const std::vector<BadCase> cases = {
      {"bad atyp", {0x00, 0x00, 0x00, 0x02, 1, 2, 3, 4, 0, 53}, CodecError::bad_address_type},
      {"empty domain", {0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x35}, CodecError::empty_domain},
      {"NUL inside domain", {0x00, 0x00, 0x00, 0x03, 0x03, 'a', 0x00, 'b', 0x00, 0x35}, CodecError::bad_field},
      {"truncated ipv6", {0x00, 0x00, 0x00, 0x04, 0, 0, 0}, CodecError::bad_field},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    socks5::UdpHeader h;
    error_code ec;
    EXPECT_EQ(socks5::decode_udp_header(c.wire, h, ec), 0u);
    EXPECT_EQ(ec, err(c.want));
  }
}

// ---- robustness -----------------------------------------------------------------------------

// Random bytes (biased to start like SOCKS5) must never crash, and must keep the contract:
// consumed == 0 exactly when ec is set, and never more than was given.
TEST(Socks5Codec, RandomInputKeepsTheContract) {
  std::mt19937 rng(1928);
  auto check = [](std::size_t n, const error_code& ec, std::size_t size) {
    EXPECT_LE(n, size);
    EXPECT_EQ(n == 0, static_cast<bool>(ec));
  };
  for (int i = 0; i < 20000; ++i) {
    Bytes in(rng() % 40);
    for (auto& b : in) b = static_cast<std::uint8_t>(rng() % 8 == 0 ? 0 : rng());
    if (!in.empty() && rng() % 2) in[0] = 0x05;
    if (in.size() > 3 && rng() % 2) in[3] = static_cast<std::uint8_t>(rng() % 5);
    if (in.size() > 4 && rng() % 2) in[4] = static_cast<std::uint8_t>(rng() % 12);
    error_code ec;
    socks5::Greeting g;
    check(socks5::decode_greeting(in, g, ec), ec, in.size());
    socks5::Method m;
    check(socks5::decode_method_selection(in, m, ec), ec, in.size());
    socks5::UserPassRequest up;
    check(socks5::decode_userpass_request(in, up, ec), ec, in.size());
    std::uint8_t st;
    check(socks5::decode_userpass_reply(in, st, ec), ec, in.size());
    socks5::Request rq;
    check(socks5::decode_request(in, rq, ec), ec, in.size());
    socks5::ReplyMessage rp;
    check(socks5::decode_reply(in, rp, ec), ec, in.size());
    socks5::UdpHeader uh;
    auto n = socks5::decode_udp_header(in, uh, ec);
    check(n, ec, in.size());
    EXPECT_NE(ec, err(CodecError::need_more));
  }
}

} // namespace
