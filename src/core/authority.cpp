#include "hopgate/core/authority.hpp"

#include "hopgate/core/target.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <charconv>

namespace hopgate {
namespace {

/// port = *DIGIT (RFC 3986 §3.2.3), up to 65535; an empty port means the scheme's default.
bool parse_port(std::string_view s, std::optional<std::uint16_t>& out) {
  if (s.empty()) return true;
  if (s.size() > 5 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  unsigned v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

bool is_ipv4_literal(std::string_view s) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address_v4(std::string(s), ec);
  return !ec;
}

} // namespace

std::optional<std::string> normalize_host_name(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return std::nullopt;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return std::nullopt;
  }
  if (label == 0) return std::nullopt; // "a.." lost one dot above and still ends in an empty label
  return normalize_host(name);
}

std::optional<HostAuthority> parse_host_header(std::string_view value) {
  value = trim_ows(value);
  HostAuthority out;
  std::string_view port;
  if (value.starts_with('[')) {
    auto close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto inner = value.substr(1, close - 1);
    // A zone ("%eth0") is not allowed in a URI's IP-literal without RFC 6874's escaping.
    if (inner.find('%') != std::string_view::npos) return std::nullopt;
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address_v6(std::string(inner), ec);
    if (ec) return std::nullopt;
    auto rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
    out.host = normalize_host(value.substr(0, close + 1));
    out.ip_literal = true;
  } else {
    auto colon = value.find(':');
    if (colon != std::string_view::npos) {
      port = value.substr(colon + 1);
      // A second colon: an unbracketed IPv6 address (or garbage), not a Host.
      if (port.find(':') != std::string_view::npos) return std::nullopt;
    }
    auto name = normalize_host_name(value.substr(0, colon));
    if (!name) return std::nullopt;
    out.host = std::move(*name);
    out.ip_literal = is_ipv4_literal(out.host);
  }
  if (!parse_port(port, out.port)) return std::nullopt;
  return out;
}

std::optional<std::string> normalize_origin(std::string_view text) {
  if (text.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  auto scheme = normalize_host(text.substr(0, sep));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  auto authority = parse_host_header(text.substr(sep + 3));
  if (!authority) return std::nullopt;
  std::string out = scheme + "://" + authority->host;
  std::uint16_t default_port = scheme == "http" ? 80 : 443;
  if (authority->port && *authority->port != default_port) out += ":" + std::to_string(*authority->port);
  return out;
}

} // namespace hopgate
