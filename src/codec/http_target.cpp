#include "hopgate/codec/http_target.hpp"

#include "hopgate/core/authority.hpp"
#include "hopgate/core/base64.hpp"

#include <boost/asio/ip/address.hpp>
#include <algorithm>
#include <charconv>

namespace hopgate::codec::http {
namespace {

class HttpErrorCategory final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "hopgate.http"; }
  std::string message(int ev) const override {
    switch (static_cast<HttpError>(ev)) {
    case HttpError::origin_form: return "origin-form request target: this is a proxy, send an absolute URI";
    case HttpError::asterisk_form: return "asterisk-form request target cannot be proxied";
    case HttpError::bad_target: return "malformed request target";
    case HttpError::userinfo: return "userinfo in the request target is not allowed";
    case HttpError::unsupported_scheme: return "unsupported URI scheme (use CONNECT for https)";
    case HttpError::bad_host: return "bad host in the request target";
    case HttpError::bad_port: return "bad port in the request target";
    case HttpError::bad_authority: return "CONNECT target must be host:port";
    case HttpError::bad_credentials: return "malformed Proxy-Authorization";
    case HttpError::length_and_encoding: return "both Content-Length and Transfer-Encoding";
    case HttpError::conflicting_content_length: return "conflicting Content-Length values";
    case HttpError::bad_content_length: return "bad Content-Length";
    case HttpError::bad_transfer_encoding: return "Transfer-Encoding must end in chunked";
    }
    return ev == 0 ? "success" : "unknown http error";
  }
};

/// RFC 3986 reg-name restricted to what DNS names and their common relatives use.
bool valid_reg_name(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || c == '~';
    if (!ok) return false;
  }
  return true;
}

/// The port after the colon: 1-65535 in at most five digits, or `default_port` when none is
/// needed and none was given. nullopt (ec = bad_port) otherwise.
std::optional<std::uint16_t> port_of(std::string_view port, bool needed, std::uint16_t default_port,
                                     boost::system::error_code& ec) {
  if (!needed) return default_port;
  unsigned v = 0;
  auto [p, pec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (port.empty() || pec != std::errc{} || p != port.data() + port.size() || v == 0 || v > 65535 || port.size() > 5) {
    ec = HttpError::bad_port;
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(v);
}

/// Parses "host[:port]" (port optional when `port_required` is false). Sets ec on failure.
std::optional<TargetAddress> parse_host_port(std::string_view a, bool port_required, std::uint16_t default_port,
                                             bool& port_given, boost::system::error_code& ec) {
  if (a.find('@') != std::string_view::npos) {
    ec = HttpError::userinfo;
    return std::nullopt;
  }
  std::string_view host, port;
  bool has_colon = false;
  if (!a.empty() && a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos) {
      ec = HttpError::bad_host;
      return std::nullopt;
    }
    host = a.substr(1, close - 1);
    auto rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        ec = HttpError::bad_host;
        return std::nullopt;
      }
      has_colon = true;
      port = rest.substr(1);
    }
    boost::system::error_code aec;
    auto v6 = boost::asio::ip::make_address_v6(std::string(host), aec);
    // Only IPv6 literals belong in brackets; zone ids ("%25eth0") are refused too.
    if (aec || host.find('%') != std::string_view::npos) {
      ec = HttpError::bad_host;
      return std::nullopt;
    }
    port_given = has_colon && !port.empty();
    auto value = port_of(port, port_given || port_required, default_port, ec);
    if (!value) return std::nullopt;
    return TargetAddress::from_ip(boost::asio::ip::address(v6), *value);
  }
  auto colon = a.rfind(':');
  if (colon != std::string_view::npos) {
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
    has_colon = true;
    if (host.find(':') != std::string_view::npos) { // a bare IPv6 literal needs brackets
      ec = HttpError::bad_host;
      return std::nullopt;
    }
  } else {
    host = a;
  }
  if (!valid_reg_name(host)) {
    ec = HttpError::bad_host;
    return std::nullopt;
  }
  port_given = has_colon && !port.empty();
  auto value = port_of(port, port_given || port_required, default_port, ec);
  if (!value) return std::nullopt;
  auto t = TargetAddress::from_host(host, *value);
  if (t.is_domain() && t.domain.empty()) {
    ec = HttpError::bad_host;
    return std::nullopt;
  }
  return t;
}

} // namespace

const boost::system::error_category& http_error_category() noexcept {
  static const HttpErrorCategory category;
  return category;
}

TargetForm classify_target(std::string_view target, bool is_connect) {
  if (is_connect) return TargetForm::authority;
  if (target == "*") return TargetForm::asterisk;
  if (!target.empty() && target.front() == '/') return TargetForm::origin;
  return TargetForm::absolute;
}

std::optional<RequestTarget> parse_absolute_target(std::string_view target, boost::system::error_code& ec) {
  ec = {};
  switch (classify_target(target, false)) {
  case TargetForm::origin: ec = HttpError::origin_form; return std::nullopt;
  case TargetForm::asterisk: ec = HttpError::asterisk_form; return std::nullopt;
  default: break;
  }
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      ec = HttpError::bad_target;
      return std::nullopt;
    }
  auto sep = target.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    ec = HttpError::bad_target;
    return std::nullopt;
  }
  auto scheme = target.substr(0, sep);
  for (char c : scheme) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!ok) {
      ec = HttpError::bad_target;
      return std::nullopt;
    }
  }
  if (!iequals(scheme, "http")) {
    ec = HttpError::unsupported_scheme;
    return std::nullopt;
  }
  auto rest = target.substr(sep + 3);
  auto end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, end);
  auto tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  RequestTarget out;
  out.form = TargetForm::absolute;
  auto a = parse_host_port(authority, false, 80, out.port_given, ec);
  if (!a) return std::nullopt;
  out.authority = std::move(*a);
  if (tail.empty()) out.origin_form.push_back('/'); // (not = "/": GCC 12 -Wrestrict false positive)
  else if (tail.front() == '?') out.origin_form.append("/").append(tail);
  else out.origin_form = std::string(tail);
  return out;
}

std::optional<RequestTarget> parse_authority_target(std::string_view target, boost::system::error_code& ec) {
  ec = {};
  if (target.empty() || target.find_first_of("/?#") != std::string_view::npos) {
    ec = HttpError::bad_authority;
    return std::nullopt;
  }
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      ec = HttpError::bad_authority;
      return std::nullopt;
    }
  RequestTarget out;
  out.form = TargetForm::authority;
  auto a = parse_host_port(target, true, 0, out.port_given, ec);
  if (!a) return std::nullopt;
  out.authority = std::move(*a);
  return out;
}

std::string host_text(const TargetAddress& t, std::uint16_t default_port) {
  // Appends rather than operator+ chains: GCC 12 at -O2 warns (-Wrestrict) on those falsely.
  std::string h;
  if (t.is_ipv6()) h.append("[").append(t.ip->to_string()).append("]");
  else h = t.host();
  if (t.port != default_port) h.append(":").append(std::to_string(t.port));
  return h;
}

std::string absolute_form(const RequestTarget& t) {
  std::string out = "http://";
  out.append(host_text(t.authority, 80));
  out.append(t.origin_form.empty() ? std::string_view("/") : std::string_view(t.origin_form));
  return out;
}

std::optional<BasicCredentials> decode_basic(std::string_view v, boost::system::error_code& ec) {
  ec = HttpError::bad_credentials;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  v = trim(v);
  auto space = v.find_first_of(" \t");
  if (space == std::string_view::npos || !iequals(v.substr(0, space), "Basic")) return std::nullopt;
  auto token = trim(v.substr(space + 1));
  auto decoded = base64_decode(token);
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  ec = {};
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::string encode_basic(std::string_view username, std::string_view password) {
  std::string plain;
  plain.reserve(username.size() + password.size() + 1);
  plain.append(username).append(":").append(password);
  return "Basic " + base64_encode(plain);
}

} // namespace hopgate::codec::http
