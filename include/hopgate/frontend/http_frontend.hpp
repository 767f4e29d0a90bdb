#pragma once
// The server side of the HTTP proxy: CONNECT tunnels and absolute-URI forwarding with keep-alive.
#include "hopgate/admin/registry.hpp"
#include "hopgate/frontend/context.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace hopgate::frontend {

/// Serves one HTTP proxy client connection (possibly many requests). `buffered` holds bytes
/// already read. Returns the result text for the access log.
awaitable<std::string> serve_http(tcp::socket& client, SessionContext& ctx, admin::Connection& conn,
                                  std::vector<std::uint8_t> buffered, config::AuthMode auth);

} // namespace hopgate::frontend
