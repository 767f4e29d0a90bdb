// The admin API's HTTP side: one coroutine per client connection reads requests with Beast's
// parser (head and body limits, deadlines), answers each through handle_request, and keeps the
// connection alive. The documents themselves are built in views.cpp, metrics.cpp and pac.cpp.
#include "hopgate/admin/api.hpp"

#include "hopgate/admin/browser_guard.hpp"
#include "hopgate/admin/metrics.hpp"
#include "hopgate/admin/pac.hpp"
#include "hopgate/admin/views.hpp"
#include "hopgate/core/secret.hpp"
#include "hopgate/dns/resolver.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <array>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace hopgate::admin {

namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

namespace {

/// Time a client has to send a request head and body once it started one.
constexpr auto request_timeout = std::chrono::seconds(30);
/// Time an idle keep-alive connection stays open between requests.
constexpr auto keepalive_timeout = std::chrono::seconds(60);

std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"; }

Response make_response(const Request& req, http::status status, std::string body, std::string_view content_type) {
  Response res{status, req.version()};
  res.set(http::field::server, "hopgate/" HOPGATE_VERSION);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  // No browser may take a JSON answer for a script or a page (a <script src> of /api/v1/...).
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response json_response(const Request& req, http::status status, const json& j) {
  return make_response(req, status, dump(j), "application/json");
}

Response error_response(const Request& req, http::status status, std::string_view code, std::string_view message,
                        json details = nullptr) {
  json e{{"code", code}, {"message", message}};
  if (!details.is_null()) e["details"] = std::move(details);
  return json_response(req, status, {{"error", e}});
}

json errors_json(const std::vector<config::ConfigError>& errors) {
  json out = json::array();
  for (auto& e : errors) out.push_back({{"path", e.path}, {"message", e.message}});
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc{} && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
      } else {
        out += s[i];
      }
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
  std::string param(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
};

Target parse_target(std::string_view t) {
  Target out;
  auto q = t.find('?');
  out.path = percent_decode(t.substr(0, q));
  if (q == std::string_view::npos) return out;
  auto rest = t.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (!pair.empty())
      out.query[percent_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return out;
}

bool is_json_content_type(std::string_view ct) {
  auto semi = ct.find(';');
  return iequals(trim_ows(ct.substr(0, semi)), "application/json");
}

std::optional<std::size_t> parse_size(std::string_view s) {
  std::size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

/// "5", "\"5\"" or "W/\"5\"" from an If-Match header.
std::optional<std::uint64_t> parse_generation(std::string_view s) {
  s = trim_ows(s);
  if (s.starts_with("W/")) s.remove_prefix(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Response change_response(const Request& req, const ChangeResult& r, json ok_body) {
  using S = ChangeResult::Status;
  switch (r.status) {
  case S::applied: ok_body["generation"] = r.generation; return json_response(req, http::status::ok, ok_body);
  case S::invalid:
    return error_response(req, http::status::unprocessable_entity, "invalid_config",
                          std::to_string(r.errors.size()) + " error(s) in the config; nothing was applied", errors_json(r.errors));
  case S::conflict:
    return error_response(req, http::status::conflict, "generation_conflict",
                          "the config changed meanwhile (running generation " + std::to_string(r.generation) +
                              "); fetch it again and retry",
                          errors_json(r.errors));
  case S::unavailable:
    return error_response(req, http::status::conflict, "unavailable",
                          r.errors.empty() ? "cannot change the config now" : r.errors.front().message, errors_json(r.errors));
  case S::bind_failed:
    return error_response(req, http::status::conflict, "bind_failed",
                          "a new listener address cannot be bound; nothing was applied", errors_json(r.errors));
  }
  return error_response(req, http::status::internal_server_error, "internal", "unknown outcome");
}

/// "host" or "[v6]" from a Host header, when it is a plain name or address (it ends up in
/// JavaScript, so anything else is ignored).
std::optional<std::string> host_of(std::string_view host_header) {
  std::string_view h = trim_ows(host_header);
  if (h.empty()) return std::nullopt;
  if (h.front() == '[') {
    auto close = h.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto inner = h.substr(1, close - 1);
    if (inner.empty() || inner.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return std::nullopt;
    return std::string(h.substr(0, close + 1));
  }
  h = h.substr(0, h.find(':'));
  if (h.empty() || h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != std::string_view::npos)
    return std::nullopt;
  return std::string(h);
}

PacProxies pac_proxies(const Request& req, const ApiContext& ctx) {
  auto cfg = ctx.shared.current()->config;
  auto listeners = ctx.control.listeners();
  auto header_host = host_of(req[http::field::host]);
  auto address_of = [&](const std::string& name) -> std::string {
    for (auto& l : listeners) {
      if (l.name != name) continue;
      std::string host = l.address.substr(0, l.address.rfind(':'));
      if (header_host) host = *header_host;
      else if (host == "0.0.0.0") host = "127.0.0.1";
      else if (host == "[::]") host = "[::1]";
      return host + ":" + std::to_string(l.port);
    }
    return {};
  };
  auto speaks = [](const config::Listener& l, config::Protocol p) {
    return l.kind != config::ListenerKind::admin && std::find(l.protocols.begin(), l.protocols.end(), p) != l.protocols.end();
  };
  // The listener named after the protocol first (as before listeners had names), then any other.
  auto pick = [&](config::Protocol p, bool needs_no_password) -> std::string {
    auto fits = [&](const config::Listener& l) { return speaks(l, p) && (!needs_no_password || l.auth != config::AuthMode::password); };
    const auto& all = cfg->listeners.all;
    auto* own = cfg->listeners.find(config::to_string(p));
    if (own && fits(*own)) return address_of(own->name);
    const auto* other = p == config::Protocol::http ? cfg->listeners.socks() : cfg->listeners.http();
    if (other && fits(*other)) return address_of(other->name);
    for (auto& l : all)
      if (fits(l)) return address_of(l.name);
    return {};
  };
  PacProxies p;
  p.http = pick(config::Protocol::http, false);
  // Browsers cannot answer a SOCKS password prompt: offer SOCKS5 only when it needs none.
  p.socks = pick(config::Protocol::socks, true);
  return p;
}

awaitable<Response> route_query(const Request& req, const Target& t, ApiContext ctx) {
  auto target_text = t.param("target");
  if (target_text.empty()) co_return error_response(req, http::status::bad_request, "bad_request", "missing target=host:port");
  auto target = TargetAddress::parse(target_text);
  if (!target || target->port == 0)
    co_return error_response(req, http::status::bad_request, "bad_request", "bad target \"" + target_text + "\" (expected host:port)");
  RouteQuery q;
  q.target = *target;
  q.user = t.param("user");
  auto snapshot = ctx.shared.current();
  if (auto fe = t.param("frontend"); !fe.empty()) {
    // A protocol, or a listener's name (the request then comes in on it and speaks its protocol).
    const auto* l = snapshot->config->listeners.find(fe);
    if (l && l->kind != config::ListenerKind::admin) q.listener = fe;
    if (fe == "http") q.frontend = config::Protocol::http;
    else if (fe == "socks") q.frontend = config::Protocol::socks;
    else if (!q.listener.empty() && !l->protocols.empty()) q.frontend = l->protocols.front();
    else
      co_return error_response(req, http::status::bad_request, "bad_request",
                               "frontend must be \"http\", \"socks\" or the name of a listener");
  }
  if (auto c = t.param("client"); !c.empty()) {
    error_code ec;
    q.client = asio::ip::make_address(c, ec);
    if (ec) co_return error_response(req, http::status::bad_request, "bad_request", "client must be an IP address");
  }
  auto out = explain_route(*snapshot, q);
  auto resolve = t.param("resolve");
  if ((resolve == "true" || resolve == "1") && out.value("needs_resolution", false)) {
    dns::Resolver resolver(co_await asio::this_coro::executor);
    // The same resolver settings as a dial would use (dns.servers, cache bounds).
    auto res = co_await resolver.resolve(q.target.domain, &snapshot->config->dns);
    q.resolved = res.addresses;
    q.resolved_given = true;
    out = explain_route(*snapshot, q);
    if (res.ec) out["resolve_error"] = res.ec.message();
  }
  co_return json_response(req, http::status::ok, out);
}

Response put_routes(const Request& req, ApiContext ctx) {
  if (!is_json_content_type(req[http::field::content_type]))
    return error_response(req, http::status::unsupported_media_type, "unsupported_media_type",
                          "send the routes as Content-Type: application/json");
  json body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded()) {
    std::string why = "the body is not valid JSON";
    try {
      auto again = json::parse(req.body());
      (void)again;
    } catch (const json::parse_error& e) {
      why = e.what();
    }
    return error_response(req, http::status::bad_request, "bad_json", why);
  }
  std::vector<config::ConfigError> shape;
  if (!body.is_object()) shape.push_back({"", "expected an object {\"routes\": [...], \"default\": {...}}"});
  else {
    if (!body.contains("routes")) shape.push_back({"/routes", "missing"});
    for (auto& [k, v] : body.items())
      if (k != "routes" && k != "default") shape.push_back({"/" + k, "unknown key (expected \"routes\" and optionally \"default\")"});
  }
  if (!shape.empty())
    return change_response(req, {ChangeResult::Status::invalid, shape, ctx.shared.current()->generation}, {});
  std::optional<std::uint64_t> expected;
  if (auto im = req[http::field::if_match]; !im.empty() && trim_ows(im) != "*") {
    expected = parse_generation(im);
    if (!expected)
      return error_response(req, http::status::bad_request, "bad_request", "If-Match must be a generation, e.g. \"7\"");
  }
  // The rest of the document stays as it runs; the whole result is validated before anything changes.
  json doc = ctx.control.config_document();
  doc["routes"] = body["routes"];
  if (body.contains("default")) doc["default"] = body["default"];
  auto r = ctx.control.apply(doc, ChangeSource::routes, expected);
  return change_response(req, r, {{"applied", true}, {"routes", body["routes"].size()}});
}

bool authorized(const Request& req, const ApiContext& ctx) {
  auto cfg = ctx.shared.current()->config;
  const auto* admin = cfg->listeners.admin();
  if (!admin || admin->token.empty()) return true;
  std::string_view h = req[http::field::authorization];
  h = trim_ows(h);
  if (h.size() < 7 || !iequals(h.substr(0, 7), "bearer ")) return false;
  return secret_equals(trim_ows(h.substr(7)), admin->token);
}

/// The endpoints and the methods each allows, for 404 vs 405.
struct Endpoint {
  std::string_view path;
  bool prefix;
  std::string_view allow;
};
constexpr Endpoint endpoints[] = {
    {"/healthz", false, "GET"},
    {"/readyz", false, "GET"},
    {"/metrics", false, "GET"},
    {"/proxy.pac", false, "GET"},
    {"/api/v1/stats", false, "GET"},
    {"/api/v1/connections", false, "GET"},
    {"/api/v1/connections/", true, "DELETE"},
    {"/api/v1/config", false, "GET"},
    {"/api/v1/routes", false, "GET, PUT"},
    {"/api/v1/reload", false, "POST"},
    {"/api/v1/route", false, "GET"},
    {"/api/v1/upstreams", false, "GET"},
};

awaitable<Response> handle_endpoint(const Request& req, const Target& t, ApiContext ctx, Clock::time_point now);

/// The methods `path` allows ("" for no such endpoint).
std::string_view allowed_methods(std::string_view path) {
  for (auto& e : endpoints)
    if (e.prefix ? path.starts_with(e.path) && path.size() > e.path.size() : path == e.path) return e.allow;
  return {};
}

/// The values of every field `name` of the request (a request may repeat one).
std::vector<std::string_view> field_values(const Request& req, std::string_view name) {
  std::vector<std::string_view> out;
  auto [first, last] = req.equal_range(name);
  for (auto it = first; it != last; ++it) out.push_back(it->value());
  return out;
}

/// Only these tell nothing private and change nothing: a cross-site page may see them.
bool is_public(std::string_view path) { return path == "/healthz" || path == "/readyz"; }

/// The Host rule (browser_guard.hpp): the answer to a request that fails it, or nullopt.
std::optional<Response> host_refusal(const Request& req, const config::Listener* admin, observe::Stats& stats) {
  auto hosts = field_values(req, "Host");
  // HTTP/1.0 may omit Host (RFC 9112 §3.2); no browser does, so that is no way in for a page.
  if (hosts.empty() && req.version() < 11) return std::nullopt;
  auto verdict = check_host(hosts, admin ? std::span<const std::string>(admin->hosts) : std::span<const std::string>());
  if (verdict == HostVerdict::allowed) return std::nullopt;
  stats.on_admin_refused("host");
  if (verdict == HostVerdict::not_allowed)
    return error_response(req, http::status::misdirected_request, "misdirected_request",
                          "Host \"" + std::string(hosts.front()) +
                              "\" is not an IP address, localhost or a name in listeners.admin.hosts (DNS rebinding protection)");
  // RFC 9112 §3.2: 400 for a missing (HTTP/1.1), repeated or invalid Host.
  return error_response(req, http::status::bad_request, "bad_request",
                        verdict == HostVerdict::missing ? "an HTTP/1.1 request needs a Host header"
                        : verdict == HostVerdict::several ? "more than one Host header"
                                                          : "the Host header is not host[:port]");
}

Response cross_site_refusal(const Request& req, const std::string& reason, observe::Stats& stats) {
  stats.on_admin_refused("cross_site");
  return error_response(req, http::status::forbidden, "cross_site_refused",
                        "refused a request from another web origin: " + reason +
                            " (list the page's origin in listeners.admin.cors_origins to allow it)");
}

/// The headers that let a page of a configured origin read an answer (Fetch standard, CORS).
void add_cors_headers(Response& res, const std::string& origin) {
  res.set(http::field::access_control_allow_origin, origin);
  res.set(http::field::access_control_expose_headers, "ETag, WWW-Authenticate");
}

/// OPTIONS: a CORS preflight from a configured origin, or the plain Allow answer.
Response answer_options(const Request& req, std::string_view path, const CrossSiteAnswer& cross, const config::Listener* admin,
                        observe::Stats& stats) {
  auto allow = allowed_methods(path);
  if (allow.empty()) return error_response(req, http::status::not_found, "not_found", "no such endpoint: " + std::string(path));
  if (!req[http::field::origin].empty() && cross.cors_origin.empty())
    return cross_site_refusal(req, "a preflight from Origin " + std::string(req[http::field::origin]), stats);
  auto res = make_response(req, http::status::no_content, "", "application/json");
  res.erase(http::field::content_type);
  res.set(http::field::allow, std::string(allow) + ", OPTIONS");
  if (!cross.cors_origin.empty()) {
    add_cors_headers(res, cross.cors_origin);
    res.set(http::field::access_control_allow_methods, allow);
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, If-Match");
    res.set(http::field::access_control_max_age, "600");
    // Private Network Access (WICG): a public page asking for a private address says so.
    if (admin && admin->private_network && iequals(req["Access-Control-Request-Private-Network"], "true"))
      res.set("Access-Control-Allow-Private-Network", "true");
  }
  if (admin && !admin->cors_origins.empty())
    res.set(http::field::vary, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  // RFC 9110 §8.6: no Content-Length in a 204.
  res.erase(http::field::content_length);
  return res;
}

} // namespace

awaitable<Response> handle_request(const Request& req, ApiContext ctx) {
  auto t = parse_target(req.target());
  const auto method = req.method();
  const auto& path = t.path;
  auto now = Clock::now();
  auto cfg = ctx.shared.current()->config;
  const config::Listener* admin = cfg->listeners.admin();

  // Browsers first, before any endpoint (docs/admin-api.md, "Browsers").
  if (auto refused = host_refusal(req, admin, ctx.shared.stats)) co_return std::move(*refused);
  auto origins = field_values(req, "Origin");
  CrossSiteQuestion question{origins, req["Sec-Fetch-Site"], req[http::field::host],
                             !is_public(path) || (method != http::verb::get && method != http::verb::options),
                             admin ? std::span<const std::string>(admin->cors_origins) : std::span<const std::string>()};
  auto cross = check_cross_site(question);
  if (method == http::verb::options) co_return answer_options(req, path, cross, admin, ctx.shared.stats);
  if (cross.refused) co_return cross_site_refusal(req, cross.reason, ctx.shared.stats);
  auto res = co_await handle_endpoint(req, t, ctx, now);
  if (!cross.cors_origin.empty()) add_cors_headers(res, cross.cors_origin);
  if (admin && !admin->cors_origins.empty()) res.set(http::field::vary, "Origin");
  co_return res;
}

namespace {

awaitable<Response> handle_endpoint(const Request& req, const Target& t, ApiContext ctx, Clock::time_point now) {
  const auto method = req.method();
  const auto& path = t.path;

  if (path == "/healthz" && method == http::verb::get)
    co_return json_response(req, http::status::ok, {{"status", "ok"}});

  if (!authorized(req, ctx)) {
    auto res = error_response(req, http::status::unauthorized, "unauthorized",
                              "send the admin token as Authorization: Bearer <token>");
    res.set(http::field::www_authenticate, "Bearer realm=\"hopgate\"");
    co_return res;
  }

  if (method == http::verb::get) {
    if (path == "/readyz") {
      bool ready = ctx.control.ready() && !ctx.shared.draining.load();
      co_return json_response(req, ready ? http::status::ok : http::status::service_unavailable,
                              {{"status", ready ? "ready" : (ctx.shared.draining.load() ? "draining" : "not ready")}});
    }
    if (path == "/api/v1/stats") co_return json_response(req, http::status::ok, stats_json(ctx.shared, ctx.control, now));
    if (path == "/api/v1/connections") {
      ConnectionFilter f;
      f.route = t.param("route");
      f.user = t.param("user");
      f.target = t.param("target");
      f.frontend = t.param("frontend");
      f.state = t.param("state");
      for (auto [key, out] : {std::pair{"limit", &f.limit}, std::pair{"offset", &f.offset}}) {
        if (!t.query.count(key)) continue;
        auto v = parse_size(t.param(key));
        if (!v) co_return error_response(req, http::status::bad_request, "bad_request", std::string(key) + " must be a number");
        *out = *v;
      }
      if (f.limit > ConnectionFilter::max_limit)
        co_return error_response(req, http::status::bad_request, "bad_request",
                                 "limit must be at most " + std::to_string(ConnectionFilter::max_limit));
      co_return json_response(req, http::status::ok, connections_json(ctx.shared.registry, f, now));
    }
    if (path == "/api/v1/config") {
      auto snapshot = ctx.shared.current();
      json out{{"generation", snapshot->generation},
               {"path", ctx.control.config_path()},
               {"config", redact_config(ctx.control.config_document())}};
      co_return json_response(req, http::status::ok, out);
    }
    if (path == "/api/v1/routes") {
      auto snapshot = ctx.shared.current();
      auto res = json_response(req, http::status::ok, routes_json(ctx.control.config_document(), *snapshot));
      res.set(http::field::etag, "\"" + std::to_string(snapshot->generation) + "\"");
      co_return res;
    }
    if (path == "/api/v1/route") co_return co_await route_query(req, t, ctx);
    if (path == "/api/v1/upstreams")
      co_return json_response(req, http::status::ok, upstreams_json(*ctx.shared.current()->config, ctx.control));
    if (path == "/metrics")
      co_return make_response(req, http::status::ok, render_metrics(ctx.shared, ctx.control, now), metrics_content_type);
    if (path == "/proxy.pac") {
      auto snapshot = ctx.shared.current();
      co_return make_response(req, http::status::ok, make_pac(*snapshot->config, pac_proxies(req, ctx), snapshot->generation),
                              "application/x-ns-proxy-autoconfig");
    }
  }
  if (method == http::verb::put && path == "/api/v1/routes") co_return put_routes(req, ctx);
  if (method == http::verb::post && path == "/api/v1/reload") {
    auto r = ctx.control.reload_from_file(ChangeSource::reload);
    co_return change_response(req, r, {{"reloaded", true}, {"path", ctx.control.config_path()}});
  }
  if (method == http::verb::delete_ && path.starts_with("/api/v1/connections/")) {
    auto id = parse_size(std::string_view(path).substr(std::string_view("/api/v1/connections/").size()));
    if (!id) co_return error_response(req, http::status::bad_request, "bad_request", "a connection id is a number");
    if (!ctx.shared.registry.kill(*id))
      co_return error_response(req, http::status::not_found, "not_found", "no open connection " + std::to_string(*id));
    co_return json_response(req, http::status::ok, {{"id", *id}, {"closing", true}});
  }

  if (auto allow = allowed_methods(path); !allow.empty()) {
    auto res = error_response(req, http::status::method_not_allowed, "method_not_allowed",
                              std::string(req.method_string()) + " is not allowed on " + path + " (allowed: " +
                                  std::string(allow) + ")");
    res.set(http::field::allow, allow);
    co_return res;
  }
  co_return error_response(req, http::status::not_found, "not_found", "no such endpoint: " + path);
}

/// Answers a request that cannot be read whole, then the connection closes.
awaitable<void> refuse(beast::tcp_stream& stream, http::status status, std::string_view code, std::string_view message) {
  Request req;
  req.version(11);
  req.keep_alive(false);
  auto res = error_response(req, status, code, message);
  res.keep_alive(false);
  stream.expires_after(std::chrono::seconds(5));
  co_await http::async_write(stream, res, use_nothrow);
  // Lingering close: stop sending, then read and drop what the client still sends (the rest of
  // a refused body) for a moment, so that it reads our answer instead of a connection reset.
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  std::array<char, 16 * 1024> sink;
  std::size_t dropped = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (dropped < 2 * max_request_body) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
    if (ec) break;
    dropped += n;
  }
}

} // namespace

awaitable<void> serve_admin(tcp::socket socket, const Sources& shared, Control& control) {
  error_code ec;
  auto peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  {
    auto cfg = shared.current()->config;
    if (auto* admin = cfg->listeners.admin(); admin && !admin->admits(peer.address())) {
      spdlog::info("admin: refused {}: not in the admin allow list", peer.address().to_string());
      co_return;
    }
  }
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  ApiContext ctx{shared, control};
  for (bool first = true;; first = false) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_request_head);
    parser.body_limit(max_request_body);
    stream.expires_after(first ? request_timeout : keepalive_timeout);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
    (void)hn;
    if (hec == http::error::body_limit) {
      co_await refuse(stream, http::status::payload_too_large, "payload_too_large",
                      "the request body is limited to " + std::to_string(max_request_body) + " bytes");
      break;
    }
    if (hec == http::error::header_limit) {
      co_await refuse(stream, http::status::bad_request, "bad_request", "the request head is too large");
      break;
    }
    if (hec == http::error::end_of_stream || hec == beast::error::timeout || hec == asio::error::eof ||
        hec == asio::error::connection_reset || hec == asio::error::operation_aborted)
      break;
    if (hec) {
      co_await refuse(stream, http::status::bad_request, "bad_request", "malformed request: " + hec.message());
      break;
    }
    if (!parser.is_done()) {
      if (iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        auto [cec, cn] = co_await http::async_write(stream, cont, use_nothrow);
        (void)cn;
        if (cec) break;
      }
      stream.expires_after(request_timeout);
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_nothrow);
      (void)bn;
      if (bec == http::error::body_limit) {
        co_await refuse(stream, http::status::payload_too_large, "payload_too_large",
                        "the request body is limited to " + std::to_string(max_request_body) + " bytes");
        break;
      }
      if (bec) {
        if (bec != beast::error::timeout && bec != http::error::end_of_stream)
          co_await refuse(stream, http::status::bad_request, "bad_request", "malformed request body: " + bec.message());
        break;
      }
    }
    auto req = parser.release();
    Response res;
    try {
      res = co_await handle_request(req, ctx);
    } catch (const std::exception& e) {
      // A bug, not a client error: answer 500 and keep serving others.
      spdlog::error("admin: {} {}: {}", std::string(req.method_string()), std::string(req.target()), e.what());
      res = error_response(req, http::status::internal_server_error, "internal", e.what());
    }
    spdlog::debug("admin: {} {} {} -> {}", peer.address().to_string(), std::string(req.method_string()),
                  std::string(req.target()), res.result_int());
    stream.expires_after(request_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
    (void)wn;
    if (wec || !res.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

} // namespace hopgate::admin
