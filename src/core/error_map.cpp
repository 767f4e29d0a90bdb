#include "hopgate/core/error_map.hpp"

#include <boost/asio/error.hpp>

namespace hopgate {

ProxyError classify(const boost::system::error_code& ec) {
  namespace ae = boost::asio::error;
  if (!ec) return ProxyError::ok;
  if (ec.category() == proxy_error_category()) return static_cast<ProxyError>(ec.value());
  if (ec == ae::connection_refused) return ProxyError::connection_refused;
  if (ec == ae::network_unreachable || ec == ae::network_down) return ProxyError::network_unreachable;
  if (ec == ae::host_unreachable) return ProxyError::host_unreachable;
  if (ec == ae::timed_out) return ProxyError::timeout;
  if (ec == ae::host_not_found || ec == ae::host_not_found_try_again || ec == ae::no_data || ec == ae::no_recovery)
    return ProxyError::name_not_resolved;
  if (ec == ae::address_family_not_supported) return ProxyError::address_type_not_supported;
  if (ec == ae::access_denied) return ProxyError::not_allowed;
  return ProxyError::general_failure;
}

std::uint8_t socks5_reply_for(ProxyError e) {
  switch (e) {
  case ProxyError::ok: return 0x00;
  case ProxyError::not_allowed:
  case ProxyError::blocked: return 0x02;
  case ProxyError::network_unreachable: return 0x03;
  case ProxyError::host_unreachable:
  case ProxyError::name_not_resolved:
  case ProxyError::remote_dns_required: return 0x04;
  case ProxyError::connection_refused: return 0x05;
  case ProxyError::timeout: return 0x06;
  case ProxyError::command_not_supported: return 0x07;
  case ProxyError::address_type_not_supported: return 0x08;
  case ProxyError::general_failure:
  case ProxyError::upstream_auth_failed:
  case ProxyError::upstream_protocol_error:
  case ProxyError::upstream_rejected:
  case ProxyError::over_limit: return 0x01;
  }
  return 0x01;
}

std::uint8_t socks4_reply_for(ProxyError) { return 0x5B; }

unsigned http_status_for(ProxyError e) {
  switch (e) {
  case ProxyError::not_allowed:
  case ProxyError::blocked: return 403;
  case ProxyError::timeout: return 504;
  case ProxyError::over_limit: return 503;
  case ProxyError::command_not_supported: return 501;
  default: return 502;
  }
}

ProxyError from_socks5_reply(std::uint8_t rep) {
  switch (rep) {
  case 0x02: return ProxyError::not_allowed;
  case 0x03: return ProxyError::network_unreachable;
  case 0x04: return ProxyError::host_unreachable;
  case 0x05: return ProxyError::connection_refused;
  case 0x06: return ProxyError::timeout;
  case 0x07: return ProxyError::command_not_supported;
  case 0x08: return ProxyError::address_type_not_supported;
  default: return ProxyError::upstream_rejected;
  }
}

} // namespace hopgate
