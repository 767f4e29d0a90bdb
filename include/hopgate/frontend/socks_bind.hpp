#pragma once
// SOCKS BIND (RFC 1928 section 4, SOCKS4 "BIND"): the client asks the proxy to accept one
// connection for it (FTP active mode and the like). Two replies: the first carries the address
// the proxy listens on, the second the peer that connected; then the two are relayed.
// On a direct route hopgate listens itself; when the route's last hop is a SOCKS4 or SOCKS5
// upstream the BIND goes to that hop and both of its replies are passed on.
#include "hopgate/observe/registry.hpp"
#include "hopgate/config/config.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/frontend/tunnel_plan.hpp"
#include "hopgate/routing/request.hpp"
#include "hopgate/upstream/dialer.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hopgate::frontend {

/// Which SOCKS version the client speaks: it decides the reply format.
enum class SocksVersion { v4, v5 };

/// Serves a BIND request once the handshake is done. The request's target is its DST: the peer
/// the client expects (an unspecified IP accepts any peer; a domain accepts its addresses).
/// `client_pending` holds bytes the client sent past its request: they go to the peer first.
/// Returns the result text for the access log. Once the peer is connected and both replies are
/// sent, `tunnel` is set and the caller relays it, like a CONNECT's.
awaitable<std::string> serve_bind(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                  const routing::Request& request, SocksVersion version, std::vector<std::uint8_t>& client_pending,
                                  std::optional<TunnelPlan>& tunnel);

} // namespace hopgate::frontend
