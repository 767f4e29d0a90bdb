#pragma once
// The server side of the HTTP proxy: CONNECT tunnels and absolute-URI forwarding with keep-alive.
#include "hopgate/observe/registry.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/frontend/tunnel_plan.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hopgate::frontend {

/// Serves one HTTP proxy client connection (possibly many requests). `buffered` holds bytes
/// already read. Returns the result text for the access log. After a CONNECT that succeeded,
/// `tunnel` is set and the caller relays it.
awaitable<std::string> serve_http(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                  std::vector<std::uint8_t> buffered, config::AuthMode auth,
                                  std::optional<TunnelPlan>& tunnel);

} // namespace hopgate::frontend
