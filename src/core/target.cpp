#include "hopgate/core/target.hpp"

#include <charconv>

namespace hopgate {

std::string normalize_host(std::string_view host) {
  // Every trailing dot goes: "a.example.." must not survive as "a.example." and then compare
  // unequal to itself after a second normalisation (found by the fuzzers: codec round trips).
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

namespace {
/// Dotted quad without inet_ntop's sprintf: this runs several times per forwarded HTTP request.
std::string ipv4_text(const boost::asio::ip::address_v4& a) {
  auto b = a.to_bytes();
  char out[16];
  char* p = out;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i) *p++ = '.';
    p = std::to_chars(p, out + sizeof out, b[i]).ptr;
  }
  return std::string(out, p);
}
} // namespace

std::string TargetAddress::host() const {
  if (!ip) return domain;
  return ip->is_v4() ? ipv4_text(ip->to_v4()) : ip->to_string();
}

std::string TargetAddress::to_string() const {
  std::string out = is_ipv6() ? "[" + ip->to_string() + "]" : host();
  char digits[8];
  auto end = std::to_chars(digits, digits + sizeof digits, port).ptr;
  out.push_back(':');
  out.append(digits, end);
  return out;
}

TargetAddress TargetAddress::from_ip(boost::asio::ip::address a, std::uint16_t port) {
  TargetAddress t;
  t.ip = a;
  t.port = port;
  return t;
}

TargetAddress TargetAddress::from_host(std::string_view host, std::uint16_t port) {
  // Trailing dots first: "10.0.0.1." and "[::1]." are those IPs, not names that would slip past
  // every IP rule and reach an upstream that reads them as IPs (found by the fuzzers).
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(host), ec);
  if (!ec) {
    // Strip a v4-mapped IPv6 only when the client wrote it that way? Keep as given: routing sees what was asked.
    return from_ip(a, port);
  }
  TargetAddress t;
  t.port = port;
  // Brackets hold an IP literal or nothing valid: "[name]" gives an empty name, which every
  // caller refuses (keeping the inside would make "[[::1]]" an IP on the second decode).
  if (!bracketed) t.domain = normalize_host(host);
  return t;
}

std::optional<TargetAddress> TargetAddress::parse(std::string_view hp) {
  std::string_view host, port;
  if (!hp.empty() && hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':') return std::nullopt;
    host = hp.substr(0, close + 1);
    port = hp.substr(close + 2);
  } else {
    auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt; // bare IPv6 needs brackets
  }
  if (host.empty() || host == "[]" || port.empty() || port.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || p != port.data() + port.size() || value > 65535) return std::nullopt;
  auto t = from_host(host, static_cast<std::uint16_t>(value));
  if (t.is_domain() && t.domain.empty()) return std::nullopt; // "." or "..": no host at all
  return t;
}

} // namespace hopgate
