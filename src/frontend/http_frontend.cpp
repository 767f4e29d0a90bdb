#include "hopgate/frontend/http_frontend.hpp"

#include <boost/asio/write.hpp>

namespace hopgate::frontend {

// Placeholder until the HTTP front end lands: answer in HTTP's own voice, never an empty reply.
awaitable<std::string> serve_http(tcp::socket& client, SessionContext&, admin::Connection&, std::vector<std::uint8_t>,
                                  config::AuthMode) {
  static constexpr std::string_view reply =
      "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: 29\r\nConnection: close\r\n\r\n"
      "HTTP proxying is not ready.\r\n";
  auto [ec, n] = co_await asio::async_write(client, asio::buffer(reply), use_nothrow);
  (void)ec;
  (void)n;
  co_return "not implemented";
}

} // namespace hopgate::frontend
