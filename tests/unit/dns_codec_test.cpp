#include "hopgate/codec/dns.hpp"

#include <gtest/gtest.h>

using namespace hopgate::codec::dns;
using Bytes = std::vector<std::uint8_t>;

TEST(DnsCodec, QueryIsByteExact) {
  Bytes out;
  boost::system::error_code ec;
  encode_query(out, 0x1234, "example.com.", RecordType::aaaa, ec);
  ASSERT_FALSE(ec);
  Bytes expected{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 28, 0, 1};
  EXPECT_EQ(out, expected);
}

TEST(DnsCodec, QueryRejectsBadNames) {
  Bytes out;
  boost::system::error_code ec;
  encode_query(out, 1, "a..b", RecordType::a, ec);
  EXPECT_EQ(ec, hopgate::codec::CodecError::bad_field);
  encode_query(out, 1, std::string(64, 'x') + ".com", RecordType::a, ec);
  EXPECT_EQ(ec, hopgate::codec::CodecError::field_too_long);
  encode_query(out, 1, "", RecordType::a, ec);
  EXPECT_EQ(ec, hopgate::codec::CodecError::bad_field);
  EXPECT_TRUE(out.empty());
}

TEST(DnsCodec, DecodesCompressedAnswers) {
  Bytes q;
  boost::system::error_code ec;
  encode_query(q, 7, "a.test", RecordType::a, ec);
  Bytes r = q;
  r[2] = 0x81;
  r[3] = 0x80; // response, RD, RA
  r[7] = 2;    // ANCOUNT
  auto answer = [&](std::uint16_t type, Bytes rdata, std::uint32_t ttl) {
    Bytes a{0xC0, 12, static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1,
            static_cast<std::uint8_t>(ttl >> 24), static_cast<std::uint8_t>(ttl >> 16), static_cast<std::uint8_t>(ttl >> 8),
            static_cast<std::uint8_t>(ttl), 0, static_cast<std::uint8_t>(rdata.size())};
    a.insert(a.end(), rdata.begin(), rdata.end());
    r.insert(r.end(), a.begin(), a.end());
  };
  answer(1, {127, 0, 0, 1}, 300);
  answer(1, {127, 0, 0, 2}, 60);
  Answer ans;
  decode_response(r, ans, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(ans.id, 7);
  ASSERT_EQ(ans.addresses.size(), 2u);
  EXPECT_EQ(ans.addresses[1].to_string(), "127.0.0.2");
  EXPECT_EQ(ans.min_ttl, 60u);
  for (std::size_t cut = 0; cut + 1 < r.size(); ++cut) {
    Answer partial;
    decode_response(std::span<const std::uint8_t>(r.data(), cut), partial, ec);
    EXPECT_TRUE(ec) << "truncated at " << cut;
  }
}

TEST(DnsCodec, NxdomainAndQueriesAreNotAnswers) {
  Bytes q;
  boost::system::error_code ec;
  encode_query(q, 9, "nx.test", RecordType::a, ec);
  Answer ans;
  decode_response(q, ans, ec); // a query, not a response
  EXPECT_TRUE(ec);
  q[2] = 0x81;
  q[3] = 0x83;
  decode_response(q, ans, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(ans.rcode, 3);
  EXPECT_TRUE(ans.addresses.empty());
}
