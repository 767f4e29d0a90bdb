#pragma once
// The JSON admin API (Boost.Beast): health, stats, connections, routes, reload, metrics, PAC.
#include "hopgate/admin/control.hpp"
#include "hopgate/frontend/context.hpp"

namespace hopgate::admin {

/// Serves one admin client connection (HTTP/1.1 keep-alive).
awaitable<void> serve_admin(tcp::socket socket, frontend::Shared& shared, Control& control);

} // namespace hopgate::admin
