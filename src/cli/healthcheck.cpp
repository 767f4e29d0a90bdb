// A blocking client is enough here: one request, then the process exits. Each step shares one
// deadline so that a hung admin API makes the probe fail instead of hanging the orchestrator.
#include "hopgate/cli/healthcheck.hpp"

#include "hopgate/core/asio.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>

namespace hopgate::cli {

namespace beast = boost::beast;
namespace http = beast::http;

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) {
    error = "expected an http:// URL, got \"" + std::string(url) + "\"";
    return std::nullopt;
  }
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  HttpUrl u;
  if (slash != std::string_view::npos) u.target = std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos) {
    error = "no credentials in the URL (the admin token comes from HOPGATE_ADMIN_TOKEN or the config)";
    return std::nullopt;
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unclosed [ in \"" + std::string(url) + "\"";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "expected :PORT after ] in \"" + std::string(url) + "\"";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    error = "no host in \"" + std::string(url) + "\"";
    return std::nullopt;
  }
  u.host = std::string(host);
  if (!port.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535) {
      error = "bad port in \"" + std::string(url) + "\"";
      return std::nullopt;
    }
    u.port = static_cast<std::uint16_t>(p);
  }
  return u;
}

std::optional<HttpUrl> healthcheck_url(std::string_view target, const config::Config* cfg, std::string& error) {
  if (target.find("://") != std::string_view::npos) return parse_http_url(target, error);
  if (!target.empty() && target.front() != '/') {
    error = "expected a URL (http://127.0.0.1:9090/healthz) or a path (/readyz), got \"" + std::string(target) + "\"";
    return std::nullopt;
  }
  const auto* admin = cfg ? cfg->listeners.admin() : nullptr;
  if (!admin || admin->listen.empty()) {
    error = "the config has no admin listener; give the URL";
    return std::nullopt;
  }
  auto ep = admin->listen.front();
  if (ep.port() == 0) {
    error = "the admin listener picks a free port (port 0); give the URL";
    return std::nullopt;
  }
  auto a = ep.address();
  if (a.is_unspecified()) a = a.is_v4() ? asio::ip::address(asio::ip::address_v4::loopback()) : asio::ip::address(asio::ip::address_v6::loopback());
  HttpUrl u;
  u.host = a.to_string();
  u.port = ep.port();
  u.target = target.empty() ? "/healthz" : std::string(target);
  return u;
}

namespace {

awaitable<HealthResult> probe(HttpUrl url, std::string token, std::chrono::milliseconds timeout) {
  HealthResult result;
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(url.host, std::to_string(url.port), use_nothrow);
  if (rec) {
    result.message = "cannot resolve " + url.host + ": " + rec.message();
    co_return result;
  }
  beast::tcp_stream stream(ex);
  stream.expires_after(timeout);
  auto [cec, ep] = co_await stream.async_connect(endpoints, use_nothrow);
  (void)ep;
  if (cec) {
    result.message = "cannot connect to " + url.host + ":" + std::to_string(url.port) + ": " + cec.message();
    co_return result;
  }
  http::request<http::empty_body> req{http::verb::get, url.target, 11};
  bool v6 = url.host.find(':') != std::string::npos;
  req.set(http::field::host, (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port));
  req.set(http::field::user_agent, "hopgate-healthcheck");
  req.set(http::field::connection, "close");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  auto [wec, wn] = co_await http::async_write(stream, req, use_nothrow);
  (void)wn;
  if (wec) {
    result.message = "cannot send the request: " + wec.message();
    co_return result;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024); // a health answer is small; do not let a wrong port stream forever
  auto [rdec, rn] = co_await http::async_read(stream, buffer, parser, use_nothrow);
  (void)rn;
  if (rdec) {
    result.message = rdec == beast::error::timeout ? "no answer within the timeout" : "bad answer: " + rdec.message();
    co_return result;
  }
  auto& res = parser.get();
  result.status = res.result_int();
  result.ok = result.status >= 200 && result.status < 300;
  result.message = std::to_string(result.status) + " " + res.body();
  while (!result.message.empty() && (result.message.back() == '\n' || result.message.back() == '\r')) result.message.pop_back();
  co_return result;
}

} // namespace

HealthResult run_healthcheck(const HttpUrl& url, const std::string& token, std::chrono::milliseconds timeout) {
  asio::io_context io;
  HealthResult out;
  out.message = "no answer within the timeout";
  asio::co_spawn(io, probe(url, token, timeout), [&](std::exception_ptr e, HealthResult r) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        out.message = ex.what();
      }
      return;
    }
    out = std::move(r);
  });
  // The resolver has no deadline of its own; bound the whole run.
  io.run_for(timeout + std::chrono::milliseconds(500));
  return out;
}

} // namespace hopgate::cli
