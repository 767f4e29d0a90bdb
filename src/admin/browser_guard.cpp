#include "hopgate/admin/browser_guard.hpp"

#include "hopgate/core/target.hpp"

#include <algorithm>

namespace hopgate::admin {

HostVerdict check_host(std::span<const std::string_view> values, std::span<const std::string> names) {
  if (values.empty()) return HostVerdict::missing;
  if (values.size() > 1) return HostVerdict::several;
  auto authority = parse_host_header(values.front());
  if (!authority) return HostVerdict::malformed;
  if (authority->ip_literal || authority->host == "localhost") return HostVerdict::allowed;
  for (auto& n : names)
    if (n == authority->host) return HostVerdict::allowed;
  return HostVerdict::not_allowed;
}

CrossSiteAnswer check_cross_site(const CrossSiteQuestion& q) {
  CrossSiteAnswer a;
  if (q.origins.size() > 1) {
    a.refused = q.sensitive;
    a.reason = "several Origin fields";
    return a;
  }
  std::optional<std::string> origin;
  if (!q.origins.empty()) {
    origin = normalize_origin(trim_ows(q.origins.front()));
    if (origin && std::find(q.cors_origins.begin(), q.cors_origins.end(), *origin) != q.cors_origins.end()) {
      a.cors_origin = *origin;
      return a;
    }
  }
  if (!q.sensitive) return a;
  if (!q.origins.empty()) {
    auto own = normalize_origin("http://" + std::string(trim_ows(q.host)));
    if (!origin || !own || *origin != *own) {
      a.refused = true;
      a.reason = "Origin " + std::string(trim_ows(q.origins.front())) + " is not this API's origin nor in listeners.admin.cors_origins";
      return a;
    }
  }
  auto site = normalize_host(trim_ows(q.sec_fetch_site));
  if (site == "cross-site" || site == "same-site") {
    a.refused = true;
    a.reason = "Sec-Fetch-Site: " + site + " (a request from another origin)";
  }
  return a;
}

} // namespace hopgate::admin
