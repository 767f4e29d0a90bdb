#pragma once
// Turning Settings into a config document: pick the file (or the built-in base), then lay the
// flags and environment over its keys. Pure: no I/O beyond what the caller passes in.
#include "hopgate/cli/settings.hpp"
#include "hopgate/config/loader.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hopgate::cli {

/// The places searched for a config file when neither --config nor HOPGATE_CONFIG names one.
const std::vector<std::string>& default_config_paths();

/// Where the config comes from.
struct ConfigSource {
  std::string path;  ///< the file to read; "" means the built-in base (no file)
  std::string why;   ///< "--config", "HOPGATE_CONFIG", "default path", "quick mode", "built-in defaults"
};

/// --config / HOPGATE_CONFIG when given; else nothing in quick mode (--upstream / --route);
/// else the first of default_config_paths() that `exists`; else the built-in base.
ConfigSource choose_config_source(const Settings& s, const std::function<bool(const std::string&)>& exists);

/// The document used when there is no file: HTTP 127.0.0.1:8118, SOCKS 127.0.0.1:1080,
/// admin 127.0.0.1:9090, no routes, default direct (the same as config/hopgate.json).
nlohmann::json builtin_base();

/// One --route flag, parsed.
struct RouteFlag {
  std::vector<std::string> domains; ///< domain patterns ("*.onion", "example.com")
  std::vector<std::string> cidrs;   ///< CIDRs or bare IPs ("10.0.0.0/8", "192.0.2.7")
  std::string action;               ///< "direct", "block", "upstream", an upstream name, or a URL
};
/// Parses "MATCH[,MATCH...]=ACTION". A MATCH is a CIDR or IP when it parses as one, else a domain
/// pattern; one flag holds either domains or CIDRs, not both. Returns nullopt with `error` set.
std::optional<RouteFlag> parse_route_flag(std::string_view text, std::string& error);

struct Overlay {
  nlohmann::json doc;                         ///< the document with every setting applied
  std::vector<config::ConfigError> errors;    ///< path = the setting's source, e.g. "--route 2"
  bool ok() const { return errors.empty(); }
};

/// Lays `s` over `doc` (a file's document or builtin_base()):
///  - upstream U: upstreams.upstream = U and default.via = "upstream";
///  - http/socks/admin A: listeners.NAME.listen = A split at commas (other keys of the listener
///    stay); "off" removes the listener;
///  - admin_token T: listeners.admin.token = T (an error when there is no admin listener);
///  - log_level / log_format: log.level / log.format;
///  - routes: prepended to routes in command-line order (they win over the file's rules), named
///    "flag-N"; a URL action adds an upstream "flag-N" (one per distinct URL).
/// Every value is checked here so that an error names the flag or variable it came from.
Overlay apply_settings(nlohmann::json doc, const Settings& s);

/// `doc` with its keys in the order a person writes a config (listeners, users, upstreams, routes,
/// default, then the rest; "listen" first in a listener, "name", "match", "via" in a route), for
/// --print-config. Arrays keep their order.
nlohmann::ordered_json printable(const nlohmann::json& doc);

} // namespace hopgate::cli
