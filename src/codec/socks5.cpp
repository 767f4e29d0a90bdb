#include "hopgate/codec/socks5.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <string_view>

namespace hopgate::codec::socks5 {
namespace {

using boost::system::error_code;
using Bytes = std::span<const std::uint8_t>;

constexpr std::size_t max_field = 255; // every length byte in RFC 1928/1929 is one octet

// Sets the error and yields the "nothing consumed" result, so decoders read `return fail(ec, ...)`.
std::size_t fail(error_code& ec, CodecError e) {
  ec = e;
  return 0;
}

std::uint16_t read_u16(Bytes in, std::size_t at) {
  return static_cast<std::uint16_t>((in[at] << 8) | in[at + 1]);
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

// Why a domain cannot go on the wire: the length is one octet, and a NUL would be read back
// as bad_field by our own decoder (and truncated by C servers).
error_code check_domain(std::string_view d) {
  if (d.empty()) return CodecError::empty_domain;
  if (d.size() > max_field) return CodecError::field_too_long;
  if (d.find('\0') != std::string_view::npos) return CodecError::bad_field;
  return {};
}

// ATYP ADDR PORT. The domain must already have passed check_domain.
void put_address(std::vector<std::uint8_t>& out, const TargetAddress& t) {
  if (t.is_ipv4()) {
    out.push_back(static_cast<std::uint8_t>(AddressType::ipv4));
    auto b = t.ip->to_v4().to_bytes();
    out.insert(out.end(), b.begin(), b.end());
  } else if (t.is_ipv6()) {
    out.push_back(static_cast<std::uint8_t>(AddressType::ipv6));
    auto b = t.ip->to_v6().to_bytes();
    out.insert(out.end(), b.begin(), b.end());
  } else {
    out.push_back(static_cast<std::uint8_t>(AddressType::domain));
    out.push_back(static_cast<std::uint8_t>(t.domain.size()));
    out.insert(out.end(), t.domain.begin(), t.domain.end());
  }
  put_u16(out, t.port);
}

// Messages without an error channel (reply, UDP header) cannot refuse a bad domain; they send
// the RFC's "unspecified" address 0.0.0.0 rather than a field that would desync the peer.
const TargetAddress& encodable(const TargetAddress& t, TargetAddress& fallback) {
  if (!t.is_domain() || !check_domain(t.domain)) return t;
  fallback = TargetAddress::from_ip(boost::asio::ip::address_v4::any(), t.port);
  return fallback;
}

// Decodes ATYP ADDR PORT at the start of `in`; returns its length, or 0 with ec
// (need_more when `in` is a valid prefix).
std::size_t decode_address(Bytes in, TargetAddress& out, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  switch (static_cast<AddressType>(in[0])) {
  case AddressType::ipv4: {
    boost::asio::ip::address_v4::bytes_type b;
    if (in.size() < 1 + b.size() + 2) return fail(ec, CodecError::need_more);
    std::copy_n(in.begin() + 1, b.size(), b.begin());
    out = TargetAddress::from_ip(boost::asio::ip::address_v4(b), read_u16(in, 1 + b.size()));
    ec.clear();
    return 1 + b.size() + 2;
  }
  case AddressType::ipv6: {
    boost::asio::ip::address_v6::bytes_type b;
    if (in.size() < 1 + b.size() + 2) return fail(ec, CodecError::need_more);
    std::copy_n(in.begin() + 1, b.size(), b.begin());
    out = TargetAddress::from_ip(boost::asio::ip::address_v6(b), read_u16(in, 1 + b.size()));
    ec.clear();
    return 1 + b.size() + 2;
  }
  case AddressType::domain: {
    if (in.size() < 2) return fail(ec, CodecError::need_more);
    const std::size_t len = in[1];
    if (len == 0) return fail(ec, CodecError::empty_domain);
    // Look for a NUL in whatever part of the name has arrived, so garbage is refused early.
    auto name = in.subspan(2, std::min(len, in.size() - 2));
    if (std::find(name.begin(), name.end(), 0) != name.end()) return fail(ec, CodecError::bad_field);
    if (in.size() < 2 + len + 2) return fail(ec, CodecError::need_more);
    std::string_view host(reinterpret_cast<const char*>(name.data()), name.size());
    // from_host turns "1.2.3.4" into an IP target: routing should see an IP whatever ATYP said.
    auto t = TargetAddress::from_host(host, read_u16(in, 2 + len));
    // "." or "[]" normalise to nothing: as empty as a zero length.
    if (t.is_domain() && t.domain.empty()) return fail(ec, CodecError::empty_domain);
    out = std::move(t);
    ec.clear();
    return 2 + len + 2;
  }
  }
  return fail(ec, CodecError::bad_address_type);
}

} // namespace

std::size_t decode_greeting(Bytes in, Greeting& out, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  if (in[0] != version) return fail(ec, CodecError::bad_version);
  if (in.size() < 2) return fail(ec, CodecError::need_more);
  const std::size_t n = in[1];
  if (n == 0) return fail(ec, CodecError::no_methods);
  if (in.size() < 2 + n) return fail(ec, CodecError::need_more);
  out.methods.assign(in.begin() + 2, in.begin() + 2 + n);
  ec.clear();
  return 2 + n;
}

void encode_greeting(std::vector<std::uint8_t>& out, std::span<const Method> methods) {
  // NMETHODS is one octet; there are only 256 method values, so more would be repeats.
  auto n = std::min(methods.size(), max_field);
  out.push_back(version);
  out.push_back(static_cast<std::uint8_t>(n));
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(methods[i]));
}

std::size_t decode_method_selection(Bytes in, Method& out, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  if (in[0] != version) return fail(ec, CodecError::bad_version);
  if (in.size() < 2) return fail(ec, CodecError::need_more);
  out = static_cast<Method>(in[1]); // kept raw: the caller checks it is one it offered
  ec.clear();
  return 2;
}

void encode_method_selection(std::vector<std::uint8_t>& out, Method m) {
  out.push_back(version);
  out.push_back(static_cast<std::uint8_t>(m));
}

std::size_t decode_userpass_request(Bytes in, UserPassRequest& out, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  if (in[0] != auth_version) return fail(ec, CodecError::bad_auth_version);
  if (in.size() < 2) return fail(ec, CodecError::need_more);
  const std::size_t ulen = in[1];
  if (in.size() < 2 + ulen + 1) return fail(ec, CodecError::need_more);
  const std::size_t plen = in[2 + ulen];
  const std::size_t total = 3 + ulen + plen;
  if (in.size() < total) return fail(ec, CodecError::need_more);
  // Credentials are opaque bytes (RFC 1929 gives no charset); an empty one is left to the
  // authenticator to refuse, so it can answer with a proper failure status.
  out.username.assign(in.begin() + 2, in.begin() + 2 + ulen);
  out.password.assign(in.begin() + 3 + ulen, in.begin() + total);
  ec.clear();
  return total;
}

void encode_userpass_request(std::vector<std::uint8_t>& out, const UserPassRequest& req, error_code& ec) {
  if (req.username.size() > max_field || req.password.size() > max_field) {
    ec = CodecError::field_too_long;
    return;
  }
  out.push_back(auth_version);
  out.push_back(static_cast<std::uint8_t>(req.username.size()));
  out.insert(out.end(), req.username.begin(), req.username.end());
  out.push_back(static_cast<std::uint8_t>(req.password.size()));
  out.insert(out.end(), req.password.begin(), req.password.end());
  ec.clear();
}

std::size_t decode_userpass_reply(Bytes in, std::uint8_t& status, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  if (in[0] != auth_version) return fail(ec, CodecError::bad_auth_version);
  if (in.size() < 2) return fail(ec, CodecError::need_more);
  status = in[1];
  ec.clear();
  return 2;
}

void encode_userpass_reply(std::vector<std::uint8_t>& out, std::uint8_t status) {
  out.push_back(auth_version);
  out.push_back(status);
}

std::size_t decode_request(Bytes in, Request& out, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  if (in[0] != version) return fail(ec, CodecError::bad_version);
  if (in.size() < 3) return fail(ec, CodecError::need_more);
  TargetAddress target;
  auto n = decode_address(in.subspan(3), target, ec);
  if (n == 0) return 0;
  out.command = in[1];
  out.target = std::move(target);
  return 3 + n;
}

void encode_request(std::vector<std::uint8_t>& out, Command cmd, const TargetAddress& target, error_code& ec) {
  if (target.is_domain()) {
    if (auto e = check_domain(target.domain)) {
      ec = e;
      return;
    }
  }
  out.push_back(version);
  out.push_back(static_cast<std::uint8_t>(cmd));
  out.push_back(0x00); // RSV
  put_address(out, target);
  ec.clear();
}

std::size_t decode_reply(Bytes in, ReplyMessage& out, error_code& ec) {
  if (in.empty()) return fail(ec, CodecError::need_more);
  if (in[0] != version) return fail(ec, CodecError::bad_version);
  if (in.size() < 3) return fail(ec, CodecError::need_more);
  TargetAddress bound;
  auto n = decode_address(in.subspan(3), bound, ec);
  if (n == 0) return 0;
  out.reply = in[1];
  out.bound = std::move(bound);
  return 3 + n;
}

void encode_reply(std::vector<std::uint8_t>& out, Reply reply, const TargetAddress& bound) {
  TargetAddress fallback;
  out.push_back(version);
  out.push_back(static_cast<std::uint8_t>(reply));
  out.push_back(0x00); // RSV
  put_address(out, encodable(bound, fallback));
}

std::size_t decode_udp_header(Bytes in, UdpHeader& out, error_code& ec) {
  // A datagram arrives whole: a header cut short will never be completed.
  if (in.size() < 3) return fail(ec, CodecError::bad_field);
  TargetAddress target;
  auto n = decode_address(in.subspan(3), target, ec);
  if (n == 0) {
    if (ec == CodecError::need_more) ec = CodecError::bad_field;
    return 0;
  }
  out.frag = in[2]; // returned as is: the caller drops fragments it does not reassemble
  out.target = std::move(target);
  return 3 + n;
}

void encode_udp_header(std::vector<std::uint8_t>& out, const TargetAddress& target) {
  TargetAddress fallback;
  out.push_back(0x00); // RSV
  out.push_back(0x00);
  out.push_back(0x00); // FRAG: we never fragment
  put_address(out, encodable(target, fallback));
}

} // namespace hopgate::codec::socks5
