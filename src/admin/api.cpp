#include "hopgate/admin/api.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace hopgate::admin {

namespace beast = boost::beast;
namespace http = beast::http;

// Minimal admin face until the full API lands: health and readiness.
awaitable<void> serve_admin(tcp::socket socket, frontend::Shared& shared, Control& control) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, use_nothrow);
    (void)n;
    if (ec) co_return;
    http::response<http::string_body> res;
    res.version(11);
    res.keep_alive(req.keep_alive());
    res.set(http::field::content_type, "application/json");
    if (req.target() == "/healthz") {
      res.result(http::status::ok);
      res.body() = R"({"status":"ok"})";
    } else if (req.target() == "/readyz") {
      bool ready = control.ready() && !shared.draining.load();
      res.result(ready ? http::status::ok : http::status::service_unavailable);
      res.body() = ready ? R"({"status":"ready"})" : R"({"status":"not ready"})";
    } else {
      res.result(http::status::not_found);
      res.body() = R"({"error":{"code":"not_found","message":"no such endpoint"}})";
    }
    res.prepare_payload();
    auto [wec, m] = co_await http::async_write(socket, res, use_nothrow);
    (void)m;
    if (wec || !req.keep_alive()) co_return;
  }
}

} // namespace hopgate::admin
