#pragma once
// Why a proxied connection could not be made, independent of the protocol the client speaks.
// The mapping to SOCKS reply codes and HTTP statuses lives in one table (error_map.hpp).
#include <boost/system/error_code.hpp>
#include <type_traits>

namespace hopgate {

enum class ProxyError {
  /// no error
  ok = 0,
  /// unspecified failure in the proxy itself
  general_failure,
  /// the route or an access rule does not allow this request
  not_allowed,
  /// a rule blocks this destination
  blocked,
  /// no route to the target network
  network_unreachable,
  /// the target host cannot be reached or its name does not resolve
  host_unreachable,
  /// the target refused the connection
  connection_refused,
  /// a connect or handshake deadline passed
  timeout,
  /// the command is not supported on this route
  command_not_supported,
  /// the address type is not supported
  address_type_not_supported,
  /// the name could not be resolved
  name_not_resolved,
  /// the route would need a local DNS lookup but requires remote DNS
  remote_dns_required,
  /// an upstream rejected our credentials
  upstream_auth_failed,
  /// an upstream closed mid-handshake or answered garbage
  upstream_protocol_error,
  /// an upstream answered with a failure reply
  upstream_rejected,
  /// the proxy is over a connection limit
  over_limit,
};

const boost::system::error_category& proxy_error_category() noexcept;

inline boost::system::error_code make_error_code(ProxyError e) noexcept {
  return {static_cast<int>(e), proxy_error_category()};
}

} // namespace hopgate

template <> struct boost::system::is_error_code_enum<hopgate::ProxyError> : std::true_type {};
