#pragma once
// Errors of the pure wire codecs (SOCKS4/4a/5, HTTP target parsing).
#include <boost/system/error_code.hpp>
#include <type_traits>

namespace hopgate::codec {

enum class CodecError {
  /// the input is a valid prefix: read more bytes and call again
  need_more = 1,
  /// the version byte is not the protocol's
  bad_version,
  /// a SOCKS5 greeting offers zero methods
  no_methods,
  /// the address type byte is unknown
  bad_address_type,
  /// a domain name field is empty
  empty_domain,
  /// a length or field exceeds its limit
  field_too_long,
  /// a string field holds bytes it may not (NUL inside a name)
  bad_field,
  /// the RFC 1929 sub-negotiation version is not 1
  bad_auth_version,
  /// a reply carries a code that the protocol does not define
  bad_reply,
};

const boost::system::error_category& codec_error_category() noexcept;

inline boost::system::error_code make_error_code(CodecError e) noexcept {
  return {static_cast<int>(e), codec_error_category()};
}

} // namespace hopgate::codec

template <> struct boost::system::is_error_code_enum<hopgate::codec::CodecError> : std::true_type {};
