#pragma once
// HTTP request targets as a proxy sees them (RFC 9112 §3.2) and Basic proxy credentials
// (RFC 7617). Pure: strings in, values out, no I/O. Errors are HttpError values, whose
// messages are short enough to be the body of the proxy's 400 reply.
#include "hopgate/core/target.hpp"

#include <boost/system/error_code.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace hopgate::codec::http {

/// What is wrong with a request as a proxy sees it.
enum class HttpError {
  /// the target is in origin-form ("/path"): this is a proxy, not an origin
  origin_form = 1,
  /// the target is "*" (OPTIONS *): nothing to forward it to
  asterisk_form,
  /// the target is not a valid URI or authority
  bad_target,
  /// the URI carries userinfo ("user:pass@host"), which HTTP forbids
  userinfo,
  /// the URI scheme is not http (https:// needs CONNECT)
  unsupported_scheme,
  /// the host is empty or holds characters a host cannot
  bad_host,
  /// the port is not a number in 1..65535
  bad_port,
  /// a CONNECT target is not host:port
  bad_authority,
  /// Proxy-Authorization is not "Basic base64(user:password)"
  bad_credentials,
  /// a message carries both Content-Length and Transfer-Encoding
  length_and_encoding,
  /// Content-Length values differ from each other
  conflicting_content_length,
  /// a Content-Length value is not a decimal number
  bad_content_length,
  /// a request's Transfer-Encoding does not end in exactly one chunked
  bad_transfer_encoding,
};

const boost::system::error_category& http_error_category() noexcept;

inline boost::system::error_code make_error_code(HttpError e) noexcept {
  return {static_cast<int>(e), http_error_category()};
}

/// The request-target forms of RFC 9112 §3.2.
enum class TargetForm { origin, absolute, authority, asterisk };

/// A parsed request target. For absolute-form, `origin_form` is the path and query to send to
/// the origin ("/" when the URI has no path); for authority-form it is empty.
struct RequestTarget {
  TargetForm form = TargetForm::absolute;
  TargetAddress authority;  ///< host and port (80 when the URI gives none)
  std::string origin_form;  ///< "/path?query", fragment dropped
  bool port_given = false;  ///< the URI spelled out a port
};

/// Parses the target of a non-CONNECT request: absolute-form "http://host[:port][/path][?q]"
/// (scheme case-insensitive, "[v6]" hosts). origin-form and "*" are recognised and refused
/// with their own errors, so the caller can say why.
std::optional<RequestTarget> parse_absolute_target(std::string_view target, boost::system::error_code& ec);

/// Parses a CONNECT target, authority-form "host:port" / "[v6]:port" (RFC 9112 §3.2.3): the
/// port is required, userinfo is refused.
std::optional<RequestTarget> parse_authority_target(std::string_view target, boost::system::error_code& ec);

/// Which form a target has, from its first characters (no validation).
TargetForm classify_target(std::string_view target, bool is_connect);

/// "host" or "host:port" for a Host header or a URI: IPv6 in brackets, port omitted when it
/// equals `default_port`.
std::string host_text(const TargetAddress& t, std::uint16_t default_port = 80);

/// "http://host[:port]/path?q": the absolute-form an HTTP parent proxy expects.
std::string absolute_form(const RequestTarget& t);

struct BasicCredentials {
  std::string username;
  std::string password;
};

/// Decodes a Proxy-Authorization value "Basic <base64(user:password)>" (scheme case-insensitive,
/// the password may contain ':'). nullopt with bad_credentials for any other scheme or shape.
std::optional<BasicCredentials> decode_basic(std::string_view header_value, boost::system::error_code& ec);

/// "Basic <base64(user:password)>".
std::string encode_basic(std::string_view username, std::string_view password);

} // namespace hopgate::codec::http

template <> struct boost::system::is_error_code_enum<hopgate::codec::http::HttpError> : std::true_type {};
