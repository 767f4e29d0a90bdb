#pragma once
// GET /proxy.pac: a proxy auto-config file generated from the route table.
//
// The PAC sends a request DIRECT only when hopgate itself would certainly go direct; everything
// else (upstream routes, blocked destinations, and rules the browser cannot evaluate: user,
// client, front end, "resolve": true) goes to hopgate, which decides and enforces. Blocked
// destinations therefore get hopgate's own refusal (HTTP 403, SOCKS "not allowed"), not a dead
// port. The file is self-contained: it calls none of the PAC helper functions (no
// dnsResolve/isInNet, so the browser makes no DNS lookup to evaluate it).
#include "hopgate/config/config.hpp"

#include <cstdint>
#include <string>

namespace hopgate::admin {

/// Where browsers should reach hopgate: "host:port" of each front end, empty when absent.
struct PacProxies {
  std::string http;  ///< PROXY entry (the HTTP front end, or a port that speaks both)
  std::string socks; ///< SOCKS5 entry; left empty when the SOCKS front end needs a password
};

/// The proxy string the PAC returns for destinations that go through hopgate:
/// "PROXY h:p; SOCKS5 h:p" (either part may be missing).
std::string pac_proxy_string(const PacProxies& proxies);

/// The whole PAC file (JavaScript) for `cfg`.
std::string make_pac(const config::Config& cfg, const PacProxies& proxies, std::uint64_t generation);

} // namespace hopgate::admin
