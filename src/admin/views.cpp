#include "hopgate/admin/views.hpp"

#include <algorithm>
#include <chrono>

namespace hopgate::admin {

using nlohmann::json;

namespace {

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

/// Wall-clock time of a steady-clock instant, as Unix seconds.
double unix_time(Clock::time_point t, Clock::time_point now) {
  auto wall = std::chrono::system_clock::now() - std::chrono::duration_cast<std::chrono::system_clock::duration>(now - t);
  return std::chrono::duration<double>(wall.time_since_epoch()).count();
}

json null_if_empty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json totals_json(const observe::TrafficTotals& t) {
  return {{"connections", t.connections},
          {"bytes_up", t.bytes_up},
          {"bytes_down", t.bytes_down},
          {"errors", t.errors},
          {"errors_by_kind", t.errors_by_kind},
          {"results", t.results}};
}

} // namespace

std::string_view to_string(ChangeSource s) {
  switch (s) {
  case ChangeSource::signal: return "signal";
  case ChangeSource::reload: return "reload";
  case ChangeSource::routes: return "routes";
  }
  return "?";
}

std::string redact_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto rest = url.substr(scheme + 3);
  auto at = rest.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  auto userinfo = rest.substr(0, at);
  auto colon = userinfo.find(':');
  if (colon == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, scheme + 3)) + std::string(userinfo.substr(0, colon)) + ":" + std::string(redacted) +
         std::string(rest.substr(at));
}

json redact_config(json doc) {
  if (!doc.is_object()) return doc;
  if (auto users = doc.find("users"); users != doc.end() && users->is_array())
    for (auto& u : *users)
      if (u.is_object() && u.contains("password")) u["password"] = redacted;
  if (auto ups = doc.find("upstreams"); ups != doc.end() && ups->is_object())
    for (auto& [name, u] : ups->items()) {
      if (u.is_string()) u = redact_url(u.get<std::string>());
      else if (u.is_object() && u.contains("url") && u["url"].is_string()) u["url"] = redact_url(u["url"].get<std::string>());
    }
  if (auto l = doc.find("listeners"); l != doc.end() && l->is_object())
    if (auto a = l->find("admin"); a != l->end() && a->is_object() && a->contains("token")) (*a)["token"] = redacted;
  return doc;
}

json stats_json(const Sources& shared, const Control& control, Clock::time_point now) {
  auto s = shared.stats.snapshot();
  auto snapshot = shared.current();

  // Live tunnels: active counts and bytes so far, per front end and per route.
  struct Live {
    std::uint64_t active = 0, up = 0, down = 0;
  };
  std::map<std::string, Live> live_routes, live_frontends;
  for (auto& c : shared.registry.list()) {
    std::string route;
    {
      std::lock_guard lock(c->mutex);
      route = c->route;
    }
    auto up = c->bytes.up.load(std::memory_order_relaxed), down = c->bytes.down.load(std::memory_order_relaxed);
    auto& f = live_frontends[std::string(config::to_string(c->frontend))];
    f.up += up;
    f.down += down;
    if (route.empty()) continue;
    auto& r = live_routes[route];
    ++r.active;
    r.up += up;
    r.down += down;
  }

  // One row: the closed connections' totals and what the live ones carried so far; the same
  // figures feed the rate window under `key` ("frontend/http", "route/tor").
  observe::RateWindow::Totals totals;
  auto traffic_row = [&totals](const observe::TrafficTotals& t, const Live& live, std::uint64_t active,
                               std::uint64_t connections, const std::string& key) {
    json j = totals_json(t);
    j["active"] = active;
    j["live_bytes_up"] = live.up;
    j["live_bytes_down"] = live.down;
    totals[key + "/connections"] = static_cast<double>(connections);
    totals[key + "/bytes_up"] = static_cast<double>(t.bytes_up + live.up);
    totals[key + "/bytes_down"] = static_cast<double>(t.bytes_down + live.down);
    return j;
  };
  json frontends = json::object();
  for (auto fe : {config::Protocol::http, config::Protocol::socks}) {
    std::string name(config::to_string(fe));
    observe::TrafficTotals t;
    if (auto it = s.frontends.find(name); it != s.frontends.end()) t = it->second;
    json j = traffic_row(t, live_frontends[name], t.active, t.connections, "frontend/" + name);
    json hs = json::object();
    for (auto& [key, n] : s.handshake_errors)
      if (key.starts_with(name + ":")) hs[key.substr(name.size() + 1)] = n;
    j["handshake_errors"] = hs;
    frontends[name] = j;
  }

  // Every configured rule appears, with zeros until it sees traffic; rules of older configs that
  // still have counts appear too.
  std::vector<std::string> names;
  for (auto& r : snapshot->config->routes) names.push_back(r.name);
  names.push_back("default");
  for (auto& [name, t] : s.routes)
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  for (auto& [name, l] : live_routes)
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  json routes = json::object();
  for (auto& name : names) {
    observe::TrafficTotals t;
    if (auto it = s.routes.find(name); it != s.routes.end()) t = it->second;
    auto& live = live_routes[name];
    json j = traffic_row(t, live, live.active, t.connections + live.active, "route/" + name);
    auto dns = s.route_dns_lookups.find(name);
    j["dns_lookups"] = dns == s.route_dns_lookups.end() ? 0 : dns->second;
    routes[name] = j;
  }

  // Rates over the last minute (since start until there is an older sample).
  auto rates = shared.stats.rates().rates(now, totals, control.started());
  auto rate_of = [&](const std::string& prefix) {
    return json{{"connections_per_second", rates[prefix + "/connections"]},
                {"bytes_up_per_second", rates[prefix + "/bytes_up"]},
                {"bytes_down_per_second", rates[prefix + "/bytes_down"]}};
  };
  for (auto& [name, j] : frontends.items()) j["rates"] = rate_of("frontend/" + name);
  for (auto& [name, j] : routes.items()) j["rates"] = rate_of("route/" + name);

  json listeners = json::array();
  for (auto& l : control.listeners()) listeners.push_back({{"name", l.name}, {"address", l.address}, {"port", l.port}});

  json reloads = json::object();
  for (auto& [key, n] : s.reloads) reloads[key.first][key.second] = n;

  return {{"version", HOPGATE_VERSION},
          {"uptime_seconds", seconds_between(control.started(), now)},
          {"started_at", unix_time(control.started(), now)},
          {"generation", snapshot->generation},
          {"listeners", listeners},
          {"connections_active", shared.registry.size()},
          {"frontends", frontends},
          {"routes", routes},
          {"dns", {{"lookups_total", dns::Resolver::lookups_total()}}},
          {"reloads", reloads}};
}

json connections_json(const observe::Registry& registry, const ConnectionFilter& f, Clock::time_point now) {
  json list = json::array();
  std::size_t matched = 0;
  for (auto& c : registry.list()) {
    std::string user, target, route, hops, state;
    {
      std::lock_guard lock(c->mutex);
      user = c->user;
      target = c->target;
      route = c->route;
      hops = c->hops;
      state = c->state.load(std::memory_order_relaxed);
    }
    std::string frontend(config::to_string(c->frontend));
    if (!f.route.empty() && route != f.route) continue;
    if (!f.user.empty() && user != f.user) continue;
    if (!f.frontend.empty() && frontend != f.frontend) continue;
    if (!f.state.empty() && state != f.state) continue;
    if (!f.target.empty() && target != f.target) {
      auto t = TargetAddress::parse(target);
      auto wanted = TargetAddress::from_host(f.target, 0);
      if (!t || t->host() != wanted.host()) continue;
    }
    if (matched++ < f.offset || list.size() >= f.limit) continue;
    list.push_back({{"id", c->id},
                    {"client", c->client},
                    {"frontend", frontend},
                    {"user", null_if_empty(user)},
                    {"target", null_if_empty(target)},
                    {"route", null_if_empty(route)},
                    {"hops", null_if_empty(hops)},
                    {"state", state},
                    {"bytes", {{"up", c->bytes.up.load(std::memory_order_relaxed)}, {"down", c->bytes.down.load(std::memory_order_relaxed)}}},
                    {"age_seconds", seconds_between(c->started, now)}});
  }
  return {{"total", matched}, {"offset", f.offset}, {"limit", f.limit}, {"connections", list}};
}

json routes_json(const json& doc, const routing::Snapshot& snapshot) {
  json routes = doc.is_object() && doc.contains("routes") ? doc["routes"] : json::array();
  json def = doc.is_object() && doc.contains("default") ? doc["default"] : json{{"via", "direct"}};
  json effective = json::array();
  const auto& rs = snapshot.config->routes;
  for (std::size_t i = 0; i < rs.size(); ++i)
    effective.push_back({{"index", i}, {"name", rs[i].name}, {"via", rs[i].via.display()}});
  effective.push_back({{"index", nullptr}, {"name", "default"}, {"via", snapshot.config->default_via.display()}});
  return {{"generation", snapshot.generation}, {"routes", routes}, {"default", def}, {"effective", effective}};
}

std::string upstream_url(const config::Hop& hop) {
  std::string host = hop.host.find(':') != std::string::npos ? "[" + hop.host + "]" : hop.host;
  std::string user = hop.username.empty() ? "" : hop.username + "@";
  return std::string(config::to_string(hop.scheme)) + "://" + user + host + ":" + std::to_string(hop.port);
}

json upstreams_json(const config::Config& cfg, const Control& control) {
  json list = json::array();
  for (auto& u : cfg.upstreams) {
    json j{{"name", u.name}};
    if (auto* hop = std::get_if<config::Hop>(&u.kind)) {
      j["kind"] = config::to_string(hop->scheme);
      j["url"] = upstream_url(*hop);
      j["remote_dns"] = hop->remote_dns();
      j["auth"] = hop->pass_client_credentials ? "client" : (hop->username.empty() ? "none" : "url");
      j["connect_timeout"] = hop->connect_timeout ? json(hop->connect_timeout->count()) : json(nullptr);
    } else if (auto* ch = std::get_if<config::Chain>(&u.kind)) {
      j["kind"] = "chain";
      j["hops"] = ch->hops;
    } else {
      const auto& g = std::get<config::Group>(u.kind);
      static constexpr const char* strategies[] = {"failover", "round-robin", "least-connections", "random", "hash"};
      static constexpr const char* keys[] = {"target", "client", "user"};
      j["kind"] = "group";
      j["members"] = g.members;
      j["strategy"] = strategies[static_cast<int>(g.strategy)];
      j["hash_key"] = keys[static_cast<int>(g.hash_key)];
      j["max_fails"] = g.max_fails;
      j["fail_window"] = g.fail_window.count();
      j["probe"] = null_if_empty(g.probe);
      j["interval"] = g.probe_interval.count();
    }
    // Filled by the upstream health checker once there is one; null until then.
    j["health"] = control.upstream_health(u.name);
    list.push_back(std::move(j));
  }
  return {{"upstreams", list}};
}

json explain_route(const routing::Snapshot& snapshot, const RouteQuery& q) {
  // The Router's own verdict, as the front ends get it: only its serialization is here.
  routing::Request request{q.target, {q.client, q.user, {}, q.frontend, q.listener}, routing::Command::connect};
  auto v = routing::decide(snapshot, request, q.resolved, q.resolved_given);
  const auto& d = v.decision;

  json out{{"generation", snapshot.generation},
           {"request",
            {{"target", q.target.to_string()},
             {"frontend", config::to_string(q.frontend)},
             {"user", null_if_empty(q.user)},
             {"client", q.client.to_string()}}}};
  // A listener of its own name only when the query named one that is not also a protocol.
  if (!q.listener.empty() && q.listener != config::to_string(q.frontend)) out["request"]["listener"] = q.listener;
  out["rule"] = {{"index", d.route ? json(d.rule_index) : json(nullptr)}, {"name", d.rule_name()}};
  if (q.resolved_given) {
    json addrs = json::array();
    for (auto& a : q.resolved) addrs.push_back(a.to_string());
    out["resolved"] = addrs;
  }
  if (v.needs_resolution()) {
    out["needs_resolution"] = true;
    out["action"] = nullptr;
    out["via"] = nullptr;
    out["hops"] = json::array();
    out["dns"] = {{"target_resolved_locally", true}, {"reason", routing::dns_reason(v)}};
    return out;
  }
  out["needs_resolution"] = false;
  static constexpr const char* kinds[] = {"direct", "block", "chain"};
  out["action"] = kinds[static_cast<int>(d.via.kind)];
  out["via"] = d.via.display();
  out["port_allowed"] = v.refusal != routing::Verdict::Refusal::port_not_allowed;

  // The hop chain; a group stands for its members, tried in order (its first choice is the
  // one that decides about DNS).
  json hops = json::array();
  for (const auto& p : routing::chain_positions(*snapshot.config, v)) {
    json h{{"name", *p.name}};
    if (!p.upstream) {
      h["error"] = "not configured";
    } else if (auto* hop = std::get_if<config::Hop>(&p.upstream->kind)) {
      h["kind"] = config::to_string(hop->scheme);
      h["url"] = upstream_url(*hop);
      h["remote_dns"] = hop->remote_dns();
    } else if (auto* ch = std::get_if<config::Chain>(&p.upstream->kind)) {
      h["kind"] = "chain";
      h["hops"] = ch->hops;
    } else {
      h["kind"] = "group";
      h["members"] = std::get<config::Group>(p.upstream->kind).members;
    }
    hops.push_back(std::move(h));
  }
  out["hops"] = hops;

  // Where the target's name is resolved, if anywhere (what the dialer does, and what it refuses).
  json dns{{"target_resolved_locally", v.target_dns == routing::TargetDns::local},
           {"refused", v.target_dns == routing::TargetDns::refused}};
  if (auto reason = routing::dns_reason(v); !reason.empty()) dns["reason"] = reason;
  dns["local_lookups"] = routing::local_lookups(*snapshot.config, v, q.target);
  out["dns"] = dns;
  return out;
}

} // namespace hopgate::admin
