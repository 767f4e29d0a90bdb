// The /routes and /default sections: ordered rules (what they match, where they send it) and
// the route of everything no rule matches.
#include "hopgate/config/sections.hpp"
#include "hopgate/core/target.hpp"

namespace hopgate::config {
namespace {

void check_chain(Reader& r, const Config& c, const Via& v, const std::string& path) {
  if (v.kind != Via::Kind::chain) return;
  for (auto& name : v.chain)
    if (!c.find_upstream(name)) r.error(path, "unknown upstream \"" + name + "\"");
}

/// "frontend": a protocol the client spoke ("http", "socks"), or the name of the listener it
/// came in on. The names http and socks are both (a listener of that name is of that kind).
void read_frontends(Reader& r, const json& j, const std::string& path, const Config& c, Match& m) {
  r.strings(j, path, [&](const std::string& s, const std::string& p) {
    if (s == "http") m.frontend.push_back(Protocol::http);
    else if (s == "socks") m.frontend.push_back(Protocol::socks);
    else if (auto* l = c.listeners.find(s); l && l->kind != ListenerKind::admin) m.listener.push_back(s);
    else if (l) r.error(p, "\"" + s + "\" is the admin API's listener: routes apply to front ends");
    else r.error(p, "unknown front end \"" + s + "\" (expected \"http\", \"socks\" or the name of a listener)");
  });
}

void read_match(Reader& r, const json& M, const std::string& mp, const Config& c, Match& m) {
  if (!r.object(M, mp, {"domain", "cidr", "port", "frontend", "client", "user"})) return;
  if (M.contains("domain"))
    r.strings(M["domain"], Reader::at(mp, "domain"), [&](const std::string& s, const std::string& dp) {
      auto d = normalize_host(s);
      if (d.empty() || d == "*" || d == ".") r.error(dp, "empty domain pattern");
      else m.domain.push_back(d);
    });
  if (M.contains("cidr")) r.cidrs(M["cidr"], Reader::at(mp, "cidr"), m.cidr);
  if (M.contains("port")) r.ports(M["port"], Reader::at(mp, "port"), m.port);
  if (M.contains("frontend")) read_frontends(r, M["frontend"], Reader::at(mp, "frontend"), c, m);
  if (M.contains("client")) r.cidrs(M["client"], Reader::at(mp, "client"), m.client);
  if (M.contains("user"))
    r.strings(M["user"], Reader::at(mp, "user"), [&](const std::string& s, const std::string& up) {
      if (!c.find_user(s)) r.error(up, "unknown user \"" + s + "\"");
      m.user.push_back(s);
    });
}

std::optional<Route> read_route(Reader& r, const json& j, const std::string& p, std::size_t i, const Config& c) {
  if (!r.object(j, p, {"name", "match", "via", "resolve", "remote_dns", "allow_ports"})) return std::nullopt;
  Route route;
  route.name = "routes[" + std::to_string(i) + "]";
  if (j.contains("name")) r.string(j["name"], Reader::at(p, "name"), route.name);
  if (!j.contains("via")) r.error(Reader::at(p, "via"), "missing (\"direct\", \"block\" or upstream names)");
  else {
    route.via = r.via(j["via"], Reader::at(p, "via"));
    check_chain(r, c, route.via, Reader::at(p, "via"));
  }
  if (j.contains("match")) read_match(r, j["match"], Reader::at(p, "match"), c, route.match);
  if (j.contains("resolve")) r.boolean(j["resolve"], Reader::at(p, "resolve"), route.resolve);
  if (j.contains("remote_dns")) {
    std::string s;
    if (r.string(j["remote_dns"], Reader::at(p, "remote_dns"), s)) {
      if (s == "required") route.remote_dns = RemoteDns::required;
      else if (s == "any") route.remote_dns = RemoteDns::any;
      else r.error(Reader::at(p, "remote_dns"), "unknown value \"" + s + "\" (expected \"required\" or \"any\")");
    }
  }
  if (j.contains("allow_ports")) r.ports(j["allow_ports"], Reader::at(p, "allow_ports"), route.allow_ports);
  return route;
}

} // namespace

void load_routes(Reader& r, const json& doc, Config& c) {
  if (doc.contains("routes")) {
    const auto& R = doc["routes"];
    if (!R.is_array()) r.error("/routes", "expected an array of routes");
    else
      for (std::size_t i = 0; i < R.size(); ++i)
        if (auto route = read_route(r, R[i], Reader::at("/routes", i), i, c)) c.routes.push_back(std::move(*route));
  }
  if (doc.contains("default") && r.object(doc["default"], "/default", {"via"}) && doc["default"].contains("via")) {
    c.default_via = r.via(doc["default"]["via"], "/default/via");
    check_chain(r, c, c.default_via, "/default/via");
  }
}

} // namespace hopgate::config
