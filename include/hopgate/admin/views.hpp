#pragma once
// The JSON documents of the admin API, built from the shared state without any I/O, so that
// unit tests can check them without sockets. The HTTP side lives in admin/api.hpp.
#include "hopgate/admin/control.hpp"
#include "hopgate/observe/registry.hpp"
#include "hopgate/admin/sources.hpp"
#include "hopgate/routing/router.hpp"
#include "hopgate/routing/snapshot.hpp"

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::admin {

/// What replaces a secret in GET /api/v1/config.
inline constexpr std::string_view redacted = "<redacted>";

/// "socks5://user:pass@host:1080" -> "socks5://user:<redacted>@host:1080"; other text unchanged.
std::string redact_url(std::string_view url);
/// The config document with user passwords, upstream URL passwords and the admin token redacted.
nlohmann::json redact_config(nlohmann::json doc);

/// GET /api/v1/stats.
nlohmann::json stats_json(const Sources& shared, const Control& control, Clock::time_point now);

/// Filters and paging of GET /api/v1/connections; empty strings do not filter.
struct ConnectionFilter {
  std::string route;
  std::string user;
  std::string target;   ///< "host:port", or a host matching any port
  std::string frontend; ///< "http" or "socks"
  std::string state;    ///< "handshake", "connecting", "open", "failed"
  std::size_t limit = 100;
  std::size_t offset = 0;
  static constexpr std::size_t max_limit = 1000;
};
/// GET /api/v1/connections.
nlohmann::json connections_json(const observe::Registry& registry, const ConnectionFilter& filter, Clock::time_point now);

/// GET /api/v1/routes: the rule list as written (PUT-able as is) plus its effective names.
nlohmann::json routes_json(const nlohmann::json& doc, const routing::Snapshot& snapshot);

/// The upstream URL without its password: "socks5h://user@host:port".
std::string upstream_url(const config::Hop& hop);
/// GET /api/v1/upstreams.
nlohmann::json upstreams_json(const config::Config& cfg, const Control& control);

/// GET /api/v1/route: one hypothetical request.
struct RouteQuery {
  TargetAddress target;
  config::Protocol frontend = config::Protocol::socks;
  std::string listener; ///< the listener it would come in on ("" when the query named none)
  boost::asio::ip::address client = boost::asio::ip::make_address("127.0.0.1");
  std::string user;
  /// Addresses of a domain target, when the caller resolved it for a "resolve": true rule.
  std::vector<boost::asio::ip::address> resolved;
  bool resolved_given = false;
};
/// Which rule matches, the action, the hop chain, and where the target name would be resolved.
nlohmann::json explain_route(const routing::Snapshot& snapshot, const RouteQuery& query);

} // namespace hopgate::admin
