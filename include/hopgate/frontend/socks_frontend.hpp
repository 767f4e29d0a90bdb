#pragma once
// The server side of SOCKS4, SOCKS4a and SOCKS5 (RFC 1928, RFC 1929), read top to bottom like
// the RFCs: greeting, method, auth, request, route and dial, reply, relay.
#include "hopgate/admin/registry.hpp"
#include "hopgate/frontend/context.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hopgate::frontend {

/// A CONNECT that succeeded and was answered: what is left to relay. The handshake hands this
/// back instead of relaying inside its own coroutine frames, so that a long-lived tunnel does
/// not keep the handshake's frames (a kilobyte and more) alive for its whole life.
struct TunnelPlan {
  tcp::socket upstream;
  std::vector<std::uint8_t> to_upstream;         ///< client bytes read beyond the request
  std::vector<std::uint8_t> to_client;           ///< upstream bytes read beyond its handshake
  std::vector<std::shared_ptr<void>> holds;      ///< keeps the hops' active-connection counts up
  Clock::duration idle{};
};

/// Serves one SOCKS connection. `buffered` holds bytes already read (the sniffed first bytes).
/// `auth` is the auth mode of the listener the client came in on. Returns the result text for
/// the access log ("ok", "connection refused", "bad request"...). After a successful CONNECT
/// `tunnel` is set and the caller relays it (relay_tunnel); BIND and UDP ASSOCIATE run to the end here.
awaitable<std::string> serve_socks(tcp::socket& client, SessionContext& ctx, admin::Connection& conn,
                                   std::vector<std::uint8_t> buffered, config::AuthMode auth,
                                   std::optional<TunnelPlan>& tunnel);

/// Relays a planned tunnel to its end; returns the result text for the access log.
awaitable<std::string> relay_tunnel(tcp::socket& client, TunnelPlan& tunnel, admin::Connection& conn);

} // namespace hopgate::frontend
