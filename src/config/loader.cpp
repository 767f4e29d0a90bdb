#include "hopgate/config/loader.hpp"
#include "hopgate/config/sections.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace hopgate::config {

LoadResult load_config(const json& doc) {
  Reader r;
  Config c;
  if (!r.object(doc, "", {"listeners", "users", "upstreams", "routes", "default", "timeouts", "http", "limits", "udp",
                          "dns", "log", "workers", "deny_private_targets", "$schema"}))
    return {std::nullopt, r.errors};
  // In this order: listener auth needs users, routes name users, listeners and upstreams.
  load_listeners(r, doc, c);
  load_users(r, doc, c);
  load_upstreams(r, doc, c);
  load_routes(r, doc, c);
  load_options(r, doc, c);
  check_upstreams(r, c);
  check_listeners(r, doc, c);
  if (!r.errors.empty()) return {std::nullopt, std::move(r.errors)};
  return {std::move(c), {}};
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {std::nullopt, {{"", "cannot read config file " + path}}};
  std::stringstream ss;
  ss << in.rdbuf();
  json doc = json::parse(ss.str(), nullptr, false, true);
  if (doc.is_discarded()) {
    // Re-parse with exceptions on to get the position of the syntax error.
    try {
      auto again = json::parse(ss.str(), nullptr, true, true);
      (void)again;
    } catch (const json::parse_error& e) {
      return {std::nullopt, {{"", std::string("JSON syntax error in ") + path + ": " + e.what()}}};
    }
    return {std::nullopt, {{"", "JSON syntax error in " + path}}};
  }
  return load_config(doc);
}

} // namespace hopgate::config
