#pragma once
// SOCKS5 (RFC 1928) and its username/password sub-negotiation (RFC 1929), both sides.
// Pure: bytes in, bytes out. Every decode_* returns the bytes consumed; on a short input it
// returns 0 and sets CodecError::need_more; on bad input it returns 0 and sets the exact error.
// Encoders append to the caller's buffer.
#include "hopgate/codec/codec_error.hpp"
#include "hopgate/core/target.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hopgate::codec::socks5 {

inline constexpr std::uint8_t version = 0x05;
inline constexpr std::uint8_t auth_version = 0x01;

enum class Method : std::uint8_t { no_auth = 0x00, gssapi = 0x01, user_pass = 0x02, no_acceptable = 0xFF };
enum class Command : std::uint8_t { connect = 0x01, bind = 0x02, udp_associate = 0x03 };
enum class AddressType : std::uint8_t { ipv4 = 0x01, domain = 0x03, ipv6 = 0x04 };
enum class Reply : std::uint8_t {
  succeeded = 0x00,
  general_failure = 0x01,
  not_allowed = 0x02,
  network_unreachable = 0x03,
  host_unreachable = 0x04,
  connection_refused = 0x05,
  ttl_expired = 0x06,
  command_not_supported = 0x07,
  address_type_not_supported = 0x08,
};

/// Client greeting: VER NMETHODS METHODS...
struct Greeting {
  std::vector<std::uint8_t> methods;
};
std::size_t decode_greeting(std::span<const std::uint8_t> in, Greeting& out, boost::system::error_code& ec);
void encode_greeting(std::vector<std::uint8_t>& out, std::span<const Method> methods);

/// Server's method selection: VER METHOD
std::size_t decode_method_selection(std::span<const std::uint8_t> in, Method& out, boost::system::error_code& ec);
void encode_method_selection(std::vector<std::uint8_t>& out, Method m);

/// RFC 1929 request: VER(1) ULEN UNAME PLEN PASSWD
struct UserPassRequest {
  std::string username;
  std::string password;
};
std::size_t decode_userpass_request(std::span<const std::uint8_t> in, UserPassRequest& out,
                                    boost::system::error_code& ec);
/// Fails with field_too_long (appending nothing) if a field exceeds 255 bytes.
void encode_userpass_request(std::vector<std::uint8_t>& out, const UserPassRequest& req,
                             boost::system::error_code& ec);
/// RFC 1929 reply: VER(1) STATUS (0 = success)
std::size_t decode_userpass_reply(std::span<const std::uint8_t> in, std::uint8_t& status,
                                  boost::system::error_code& ec);
/// RFC 1929 status: 0x00 is success, any other value failure.
inline constexpr std::uint8_t userpass_success = 0x00;
inline constexpr std::uint8_t userpass_failure = 0x01;
void encode_userpass_reply(std::vector<std::uint8_t>& out, std::uint8_t status);

/// Request: VER CMD RSV ATYP DST.ADDR DST.PORT. The command is kept raw so that a server can
/// answer an unknown one with command_not_supported. RSV is not checked (Postel).
struct Request {
  std::uint8_t command = 0;
  TargetAddress target;
};
std::size_t decode_request(std::span<const std::uint8_t> in, Request& out, boost::system::error_code& ec);
/// Fails with field_too_long if the domain exceeds 255 bytes, empty_domain if it is empty.
void encode_request(std::vector<std::uint8_t>& out, Command cmd, const TargetAddress& target,
                    boost::system::error_code& ec);

/// Reply: VER REP RSV ATYP BND.ADDR BND.PORT. The reply code is kept raw (any byte decodes).
struct ReplyMessage {
  std::uint8_t reply = 0;
  TargetAddress bound;
};
std::size_t decode_reply(std::span<const std::uint8_t> in, ReplyMessage& out, boost::system::error_code& ec);
void encode_reply(std::vector<std::uint8_t>& out, Reply reply, const TargetAddress& bound);

/// UDP request header: RSV(2) FRAG ATYP DST.ADDR DST.PORT, then the payload.
struct UdpHeader {
  std::uint8_t frag = 0;
  TargetAddress target;
};
/// Returns the header length (the payload starts there). A short datagram is bad_field, not need_more.
std::size_t decode_udp_header(std::span<const std::uint8_t> in, UdpHeader& out, boost::system::error_code& ec);
void encode_udp_header(std::vector<std::uint8_t>& out, const TargetAddress& target);

} // namespace hopgate::codec::socks5
