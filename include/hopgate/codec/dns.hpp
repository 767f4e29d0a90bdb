#pragma once
// A minimal DNS message codec (RFC 1035) for A/AAAA lookups: enough for hopgate's own
// asynchronous stub resolver. Pure: bytes in, bytes out.
#include "hopgate/codec/codec_error.hpp"

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::codec::dns {

enum class RecordType : std::uint16_t { a = 1, aaaa = 28 };

/// Appends a recursive query for `name` (no trailing dot needed). Fails with field_too_long
/// when a label exceeds 63 bytes or the name 253, bad_field on an empty label.
void encode_query(std::vector<std::uint8_t>& out, std::uint16_t id, std::string_view name, RecordType type,
                  boost::system::error_code& ec);

struct Answer {
  std::uint16_t id = 0;
  std::uint8_t rcode = 0;  ///< 0 no error, 3 NXDOMAIN
  bool truncated = false;
  std::vector<boost::asio::ip::address> addresses; ///< A and AAAA records of the answer section
  std::uint32_t min_ttl = 0;                       ///< smallest TTL among them
};

/// Decodes a response (a whole datagram). bad_field on anything malformed.
void decode_response(std::span<const std::uint8_t> in, Answer& out, boost::system::error_code& ec);

} // namespace hopgate::codec::dns
