#pragma once
// The server side of SOCKS4, SOCKS4a and SOCKS5 (RFC 1928, RFC 1929), read top to bottom like
// the RFCs: greeting, method, auth, request, route and dial, reply, relay.
#include "hopgate/observe/registry.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/frontend/tunnel_plan.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hopgate::frontend {

/// Serves one SOCKS connection. `buffered` holds bytes already read (the sniffed first bytes).
/// `auth` is the auth mode of the listener the client came in on. Returns the result text for
/// the access log ("ok", "connection refused", "bad request"...). After a successful CONNECT
/// `tunnel` is set and the caller relays it (run_session hands it to relay::start), and so after a
/// BIND once its peer is connected; UDP ASSOCIATE runs to the end here.
awaitable<std::string> serve_socks(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                   std::vector<std::uint8_t> buffered, config::AuthMode auth,
                                   std::optional<TunnelPlan>& tunnel);

} // namespace hopgate::frontend
