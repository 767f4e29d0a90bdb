// Lays flags and environment over a config document. The result is a plain document, so
// --print-config can show it and the one loader validates it like any file.
#include "hopgate/cli/overrides.hpp"

#include "hopgate/core/cidr.hpp"
#include "hopgate/core/target.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace hopgate::cli {

using nlohmann::json;

const std::vector<std::string>& default_config_paths() {
  static const std::vector<std::string> paths{"config/hopgate.json", "/etc/hopgate/hopgate.json"};
  return paths;
}

ConfigSource choose_config_source(const Settings& s, const std::function<bool(const std::string&)>& exists) {
  if (s.config) return {s.config->value, s.config->source};
  if (s.quick()) return {"", "quick mode"};
  for (auto& p : default_config_paths())
    if (exists(p)) return {p, "default path"};
  return {"", "built-in defaults"};
}

json builtin_base() {
  return json{
      {"listeners",
       {{"http", {{"listen", json::array({"127.0.0.1:8118"})}}},
        {"socks", {{"listen", json::array({"127.0.0.1:1080"})}}},
        {"admin", {{"listen", json::array({"127.0.0.1:9090"})}}}}},
      {"routes", json::array()},
      {"default", {{"via", "direct"}}},
  };
}

namespace {

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto end = text.find(sep, start);
    auto piece = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    while (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    while (!piece.empty() && piece.back() == ' ') piece.remove_suffix(1);
    out.emplace_back(piece);
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

bool is_cidr(const std::string& s) { return Cidr::parse(s).has_value(); }

} // namespace

std::optional<RouteFlag> parse_route_flag(std::string_view text, std::string& error) {
  // The action may be a URL whose credentials hold '=': split at the last '=' before "://".
  auto scheme = text.find("://");
  auto eq = text.substr(0, scheme).rfind('=');
  if (eq == std::string_view::npos) {
    error = "expected MATCH=ACTION, e.g. '*.onion=upstream' or '10.0.0.0/8=direct'";
    return std::nullopt;
  }
  RouteFlag r;
  auto action = text.substr(eq + 1);
  while (!action.empty() && action.front() == ' ') action.remove_prefix(1);
  while (!action.empty() && action.back() == ' ') action.remove_suffix(1);
  r.action = std::string(action);
  if (r.action.empty()) {
    error = "no action after '=' (direct, block, upstream, an upstream name or a URL)";
    return std::nullopt;
  }
  for (auto& m : split(text.substr(0, eq), ',')) {
    if (m.empty()) {
      error = "empty match (expected domains like *.onion or CIDRs like 10.0.0.0/8, comma-separated)";
      return std::nullopt;
    }
    if (is_cidr(m)) r.cidrs.push_back(m);
    else if (m.find('/') != std::string::npos) {
      error = "bad CIDR \"" + m + "\" (expected e.g. 10.0.0.0/8 or fd00::/8)";
      return std::nullopt;
    } else {
      auto d = normalize_host(m);
      if (d.empty() || d == "*" || d == "." || d.find_first_of(" =") != std::string::npos) {
        error = "bad domain pattern \"" + m + "\" (expected e.g. example.com, *.example.com or .example.com)";
        return std::nullopt;
      }
      r.domains.push_back(m);
    }
  }
  if (!r.domains.empty() && !r.cidrs.empty()) {
    error = "one --route takes domains or CIDRs, not both (a rule matches only when all its matchers do); use two";
    return std::nullopt;
  }
  return r;
}

Overlay apply_settings(json doc, const Settings& s) {
  Overlay out;
  auto fail = [&](const Setting& from, std::string message) { out.errors.push_back({from.source, std::move(message)}); };
  if (!doc.is_object()) {
    out.errors.push_back({"", "the config document is not a JSON object"});
    out.doc = std::move(doc);
    return out;
  }
  // Sub-objects are created on demand; a non-object where one is needed is left for the loader
  // to report with its JSON path.
  auto object_at = [&](json& parent, const char* key) -> json* {
    if (!parent.contains(key)) parent[key] = json::object();
    return parent[key].is_object() ? &parent[key] : nullptr;
  };

  if (s.upstream) {
    std::string why;
    if (!config::parse_hop_url(s.upstream->value, why)) fail(*s.upstream, why);
    else if (auto* up = object_at(doc, "upstreams")) {
      (*up)["upstream"] = s.upstream->value;
      if (auto* def = object_at(doc, "default")) (*def)["via"] = "upstream";
    }
  }

  auto listener = [&](const std::optional<Setting>& setting, const char* name) {
    if (!setting) return;
    auto* listeners = object_at(doc, "listeners");
    if (!listeners) return;
    if (setting->value == "off") {
      listeners->erase(name);
      return;
    }
    json list = json::array();
    for (auto& a : split(setting->value, ',')) {
      std::string why;
      if (!config::parse_listen_address(a, why)) {
        fail(*setting, a.empty() ? "empty listen address" : why);
        return;
      }
      list.push_back(a);
    }
    if (auto* l = object_at(*listeners, name)) (*l)["listen"] = list;
  };
  listener(s.http, "http");
  listener(s.socks, "socks");
  listener(s.admin, "admin");

  if (s.admin_token) {
    auto* listeners = object_at(doc, "listeners");
    if (listeners && !listeners->contains("admin"))
      fail(*s.admin_token, "there is no admin listener to protect (set --admin / HOPGATE_ADMIN or listeners.admin)");
    else if (listeners && (*listeners)["admin"].is_object())
      (*listeners)["admin"]["token"] = s.admin_token->value;
  }

  if (s.log_level) {
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!levels.count(s.log_level->value))
      fail(*s.log_level, "unknown level \"" + s.log_level->value + "\" (trace, debug, info, warn, error, critical, off)");
    else if (auto* log = object_at(doc, "log")) (*log)["level"] = s.log_level->value;
  }
  if (s.log_format) {
    if (s.log_format->value != "text" && s.log_format->value != "json")
      fail(*s.log_format, "unknown format \"" + s.log_format->value + "\" (expected text or json)");
    else if (auto* log = object_at(doc, "log")) (*log)["format"] = s.log_format->value;
  }

  if (!s.routes.empty()) {
    json rules = json::array();
    std::map<std::string, std::string> url_names; // URL -> upstream name, one upstream per URL
    for (std::size_t i = 0; i < s.routes.size(); ++i) {
      const auto& setting = s.routes[i];
      std::string why;
      auto rf = parse_route_flag(setting.value, why);
      if (!rf) {
        fail(setting, why);
        continue;
      }
      json via;
      if (rf->action == "direct" || rf->action == "block") via = rf->action;
      else if (rf->action.find("://") != std::string::npos) {
        if (!config::parse_hop_url(rf->action, why)) {
          fail(setting, why);
          continue;
        }
        auto& name = url_names[rf->action];
        if (name.empty()) {
          name = "route-" + std::to_string(i + 1);
          if (auto* up = object_at(doc, "upstreams")) (*up)[name] = rf->action;
        }
        via = name;
      } else {
        bool known = doc.contains("upstreams") && doc["upstreams"].is_object() && doc["upstreams"].contains(rf->action);
        if (!known) {
          fail(setting, rf->action == "upstream"
                            ? std::string("\"upstream\" names the --upstream / HOPGATE_UPSTREAM proxy, and none is given")
                            : "unknown upstream \"" + rf->action + "\" (use direct, block, upstream, a URL, or a name from the config file)");
          continue;
        }
        via = rf->action;
      }
      json match = json::object();
      if (!rf->domains.empty()) match["domain"] = rf->domains;
      if (!rf->cidrs.empty()) match["cidr"] = rf->cidrs;
      std::string name = setting.value.substr(0, setting.value.find('='));
      rules.push_back({{"name", name}, {"match", match}, {"via", via}});
    }
    if (!doc.contains("routes")) doc["routes"] = json::array();
    if (doc["routes"].is_array()) {
      auto& existing = doc["routes"];
      rules.insert(rules.end(), existing.begin(), existing.end());
      existing = std::move(rules);
    }
  }

  out.doc = std::move(doc);
  return out;
}

nlohmann::ordered_json printable(const json& doc) {
  // Keys listed here come first, in this order; the rest follow alphabetically (json's own order).
  static const std::vector<std::string> first{"$schema", "listeners", "http", "socks", "admin", "listen", "auth",
                                              "protocols", "token", "users", "upstreams", "routes", "name", "match",
                                              "url", "group", "strategy", "via", "default"};
  if (doc.is_array()) {
    auto out = nlohmann::ordered_json::array();
    for (auto& v : doc) out.push_back(printable(v));
    return out;
  }
  if (!doc.is_object()) return nlohmann::ordered_json::parse(doc.dump());
  auto out = nlohmann::ordered_json::object();
  for (auto& k : first)
    if (doc.contains(k)) out[k] = printable(doc[k]);
  for (auto& [k, v] : doc.items())
    if (!out.contains(k)) out[k] = printable(v);
  return out;
}

} // namespace hopgate::cli
