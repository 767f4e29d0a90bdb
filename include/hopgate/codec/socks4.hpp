#pragma once
// SOCKS4 and SOCKS4a, both sides. Pure, with the same decode contract as socks5.hpp.
#include "hopgate/codec/codec_error.hpp"
#include "hopgate/core/target.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::codec::socks4 {

inline constexpr std::uint8_t version = 0x04;
inline constexpr std::size_t max_field = 255; ///< USERID and SOCKS4a host limits (bytes, without NUL)

enum class Command : std::uint8_t { connect = 0x01, bind = 0x02 };
enum class Reply : std::uint8_t { granted = 0x5A, rejected = 0x5B, no_identd = 0x5C, identd_mismatch = 0x5D };

/// VN(4) CD DSTPORT DSTIP USERID NUL [HOST NUL when DSTIP is 0.0.0.x, x != 0 (SOCKS4a)]
struct Request {
  std::uint8_t command = 0; ///< raw, so unknown commands can be rejected with a reply
  TargetAddress target;     ///< IPv4 for SOCKS4, the host (normalised, maybe an IP literal) for 4a
  std::string user_id;
  bool socks4a = false;
};
std::size_t decode_request(std::span<const std::uint8_t> in, Request& out, boost::system::error_code& ec);
/// A domain target is sent in SOCKS4a form (DSTIP 0.0.0.1); an IPv6 target fails with
/// bad_address_type; a field over 255 bytes with field_too_long.
void encode_request(std::vector<std::uint8_t>& out, Command cmd, const TargetAddress& target,
                    std::string_view user_id, boost::system::error_code& ec);

/// VN(0) CD DSTPORT DSTIP
struct ReplyMessage {
  std::uint8_t reply = 0;
  boost::asio::ip::address_v4 ip;
  std::uint16_t port = 0;
};
/// Accepts VN 0 (and 4, which some servers send); anything else is bad_version.
std::size_t decode_reply(std::span<const std::uint8_t> in, ReplyMessage& out, boost::system::error_code& ec);
void encode_reply(std::vector<std::uint8_t>& out, Reply reply, boost::asio::ip::address_v4 ip, std::uint16_t port);

} // namespace hopgate::codec::socks4
