#pragma once
// The JSON admin API (Boost.Beast): health, stats, connections, routes, reload, metrics, PAC.
// See docs/admin-api.md for every endpoint with an example.
#include "hopgate/admin/control.hpp"
#include "hopgate/admin/sources.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>

namespace hopgate::admin {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

/// Limit the request body to keep a client from making the admin API buffer without bound
/// (a route list of a few thousand rules fits easily).
inline constexpr std::size_t max_request_body = 4 * 1024 * 1024;
/// Limit the request head likewise.
inline constexpr std::size_t max_request_head = 16 * 1024;

/// What the handlers work on.
struct ApiContext {
  const Sources& shared;
  Control& control;
};

/// Answers one admin request (auth included). Asynchronous only for GET /api/v1/route with
/// resolve=true, which looks the name up. The response's keep_alive follows the request's.
awaitable<Response> handle_request(const Request& req, ApiContext ctx);

/// Serves one admin client connection (HTTP/1.1 keep-alive) until it closes or idles out.
awaitable<void> serve_admin(tcp::socket socket, const Sources& shared, Control& control);

} // namespace hopgate::admin
