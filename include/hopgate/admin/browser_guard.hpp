#pragma once
// What keeps web pages away from the admin API (docs/admin-api.md, "Browsers"). Two rules, pure
// functions over header values so that unit tests check them without sockets:
//  - the Host rule stops DNS rebinding: a page on a name the attacker controls, whose name later
//    resolves to 127.0.0.1, still sends its own name as Host. Only IP literals, "localhost" and
//    the names in listeners.admin.hosts are accepted (Tor's HTTP CONNECT port does the same).
//  - the cross-site rule stops plain cross-site requests (a form POST, a fetch with
//    Content-Type: text/plain, an <img>): a browser names the page's origin in Origin and says
//    where the request comes from in Sec-Fetch-Site. A request from another origin is refused
//    unless that origin is in listeners.admin.cors_origins.
#include "hopgate/core/authority.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::admin {

enum class HostVerdict { allowed, missing, several, malformed, not_allowed };

/// The Host rule. `values` are every Host field of the request: none (HTTP/1.1 requires one,
/// RFC 9112 §3.2) or more than one is refused, as is a malformed one. `names` is
/// listeners.admin.hosts, already normalized.
HostVerdict check_host(std::span<const std::string_view> values, std::span<const std::string> names);

/// What the cross-site rule is asked about one request.
struct CrossSiteQuestion {
  std::span<const std::string_view> origins; ///< every Origin field (normally none or one)
  std::string_view sec_fetch_site;           ///< "" when absent
  std::string_view host;                     ///< the request's Host, already accepted by check_host
  bool sensitive = false;                    ///< changes state (POST, PUT, DELETE) or returns private data
  std::span<const std::string> cors_origins; ///< listeners.admin.cors_origins, normalized
};

struct CrossSiteAnswer {
  bool refused = false;
  std::string reason;      ///< why, when refused
  std::string cors_origin; ///< the configured origin the request came from: CORS headers name it
};

/// The cross-site rule. A request from a configured origin is allowed (and answered with CORS
/// headers); a request with no Origin and Sec-Fetch-Site absent, "none" (typed, bookmarked) or
/// "same-origin" is allowed; so is an Origin equal to the API's own ("http://" + Host). Anything
/// else that is sensitive is refused: another Origin (also "null"), several Origin fields,
/// Sec-Fetch-Site "cross-site" or "same-site" (another port of the same host is another origin).
CrossSiteAnswer check_cross_site(const CrossSiteQuestion& q);

} // namespace hopgate::admin
