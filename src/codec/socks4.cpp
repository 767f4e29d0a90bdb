#include "hopgate/codec/socks4.hpp"

#include <algorithm>

namespace hopgate::codec::socks4 {
namespace {

using boost::system::error_code;
using Bytes = std::span<const std::uint8_t>;

constexpr std::size_t header_size = 8; // VN CD DSTPORT(2) DSTIP(4), in both request and reply

std::size_t fail(error_code& ec, CodecError e) {
  ec = e;
  return 0;
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

// SOCKS4a marks "a host name follows" with DSTIP 0.0.0.x, x != 0.
bool is_4a_marker(const boost::asio::ip::address_v4::bytes_type& b) {
  return b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] != 0;
}

// Finds the NUL that ends a string field at the start of `in`; returns the field length
// including its NUL, or 0 with ec. The fields have no length prefix, so the 255-byte limit is
// what stops a client from making us buffer forever.
std::size_t read_cstring(Bytes in, std::string_view& out, error_code& ec) {
  auto window = in.first(std::min(in.size(), max_field + 1));
  auto nul = std::find(window.begin(), window.end(), 0);
  if (nul == window.end())
    return fail(ec, in.size() > max_field ? CodecError::field_too_long : CodecError::need_more);
  out = {reinterpret_cast<const char*>(in.data()), static_cast<std::size_t>(nul - window.begin())};
  ec.clear();
  return out.size() + 1;
}

// Why a string cannot be sent: it would not fit the decoder's limit or its NUL framing.
error_code check_field(std::string_view s) {
  if (s.size() > max_field) return CodecError::field_too_long;
  if (s.find('\0') != std::string_view::npos) return CodecError::bad_field;
  return {};
}

} // namespace

std::size_t decode_request(Bytes in, Request& out, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  if (in[0] != version) return fail(ec, CodecError::bad_version);
  if (in.size() < header_size) return fail(ec, CodecError::need_more);
  const auto port = static_cast<std::uint16_t>((in[2] << 8) | in[3]);
  boost::asio::ip::address_v4::bytes_type ip;
  std::copy_n(in.begin() + 4, ip.size(), ip.begin());

  std::string_view user;
  const auto user_len = read_cstring(in.subspan(header_size), user, ec);
  if (user_len == 0) return 0;
  std::size_t total = header_size + user_len;

  Request req;
  req.command = in[1];
  req.user_id.assign(user);
  if (!is_4a_marker(ip)) {
    req.target = TargetAddress::from_ip(boost::asio::ip::address_v4(ip), port);
  } else {
    // An empty host is refused as soon as its NUL arrives.
    if (in.size() > total && in[total] == 0) return fail(ec, CodecError::empty_domain);
    std::string_view host;
    const auto host_len = read_cstring(in.subspan(total), host, ec);
    if (host_len == 0) return 0;
    // from_host keeps an IP literal as an IP target, so "connect to 10.0.0.1" routes as an IP.
    req.target = TargetAddress::from_host(host, port);
    if (req.target.is_domain() && req.target.domain.empty()) return fail(ec, CodecError::empty_domain);
    req.socks4a = true;
    total += host_len;
  }
  out = std::move(req);
  ec.clear();
  return total;
}

void encode_request(std::vector<std::uint8_t>& out, Command cmd, const TargetAddress& target,
                    std::string_view user_id, error_code& ec) {
  if (target.is_ipv6()) {
    ec = CodecError::bad_address_type;
    return;
  }
  if (auto e = check_field(user_id)) {
    ec = e;
    return;
  }
  // An IPv4 0.0.0.x (x != 0) would read as the 4a marker, so it travels as a 4a host literal.
  std::string host;
  boost::asio::ip::address_v4::bytes_type ip{0, 0, 0, 1};
  if (target.is_ipv4() && !is_4a_marker(target.ip->to_v4().to_bytes())) {
    ip = target.ip->to_v4().to_bytes();
  } else {
    host = target.host();
    if (host.empty()) {
      ec = CodecError::empty_domain;
      return;
    }
    if (auto e = check_field(host)) {
      ec = e;
      return;
    }
  }

  out.push_back(version);
  out.push_back(static_cast<std::uint8_t>(cmd));
  put_u16(out, target.port);
  out.insert(out.end(), ip.begin(), ip.end());
  out.insert(out.end(), user_id.begin(), user_id.end());
  out.push_back(0x00);
  if (!host.empty()) {
    out.insert(out.end(), host.begin(), host.end());
    out.push_back(0x00);
  }
  ec.clear();
}

std::size_t decode_reply(Bytes in, ReplyMessage& out, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  if (in[0] != 0x00 && in[0] != version) return fail(ec, CodecError::bad_version);
  if (in.size() < 2) return fail(ec, CodecError::need_more);
  // Only 0x5A..0x5D are defined; anything else means the peer does not speak SOCKS4.
  if (in[1] < static_cast<std::uint8_t>(Reply::granted) || in[1] > static_cast<std::uint8_t>(Reply::identd_mismatch))
    return fail(ec, CodecError::bad_reply);
  if (in.size() < header_size) return fail(ec, CodecError::need_more);
  boost::asio::ip::address_v4::bytes_type ip;
  std::copy_n(in.begin() + 4, ip.size(), ip.begin());
  out.reply = in[1];
  out.port = static_cast<std::uint16_t>((in[2] << 8) | in[3]);
  out.ip = boost::asio::ip::address_v4(ip);
  ec.clear();
  return header_size;
}

void encode_reply(std::vector<std::uint8_t>& out, Reply reply, boost::asio::ip::address_v4 ip, std::uint16_t port) {
  out.push_back(0x00); // VN of a reply is 0, not 4
  out.push_back(static_cast<std::uint8_t>(reply));
  put_u16(out, port);
  auto b = ip.to_bytes();
  out.insert(out.end(), b.begin(), b.end());
}

} // namespace hopgate::codec::socks4
