#include "hopgate/core/error.hpp"

#include <string>

namespace hopgate {
namespace {

class ProxyErrorCategory final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "hopgate.proxy"; }
  std::string message(int ev) const override {
    switch (static_cast<ProxyError>(ev)) {
    case ProxyError::ok: return "success";
    case ProxyError::general_failure: return "general failure";
    case ProxyError::not_allowed: return "not allowed";
    case ProxyError::blocked: return "blocked by rule";
    case ProxyError::network_unreachable: return "network unreachable";
    case ProxyError::host_unreachable: return "host unreachable";
    case ProxyError::connection_refused: return "connection refused";
    case ProxyError::timeout: return "timed out";
    case ProxyError::command_not_supported: return "command not supported";
    case ProxyError::address_type_not_supported: return "address type not supported";
    case ProxyError::name_not_resolved: return "name not resolved";
    case ProxyError::remote_dns_required: return "route would resolve the name locally but remote DNS is required";
    case ProxyError::upstream_auth_failed: return "upstream authentication failed";
    case ProxyError::upstream_protocol_error: return "upstream protocol error";
    case ProxyError::upstream_rejected: return "upstream rejected the request";
    case ProxyError::over_limit: return "over connection limit";
    }
    return "unknown proxy error";
  }
};

} // namespace

const boost::system::error_category& proxy_error_category() noexcept {
  static const ProxyErrorCategory category;
  return category;
}

} // namespace hopgate
