// The /listeners section: named listeners, each with a kind. The names http, socks and admin
// need no "kind" (they are of that kind), so every config written before listeners had names
// reads as it did.
#include "hopgate/config/sections.hpp"
#include "hopgate/core/authority.hpp"

#include <algorithm>

namespace hopgate::config {
namespace {

constexpr std::string_view kind_names = "\"http\", \"socks\" or \"admin\"";

std::optional<ListenerKind> kind_named(std::string_view s) {
  if (s == "http") return ListenerKind::http;
  if (s == "socks") return ListenerKind::socks;
  if (s == "admin") return ListenerKind::admin;
  return std::nullopt;
}

/// The listener's kind: its "kind", or its name when that is a kind. A listener named after a
/// kind must be of that kind: "frontend": "socks" in a route means the kind, and must not also
/// mean a listener that speaks HTTP.
std::optional<ListenerKind> read_kind(Reader& r, const json& j, const std::string& path, const std::string& name) {
  auto implied = kind_named(name);
  if (!j.is_object() || !j.contains("kind")) {
    if (!implied) r.error(Reader::at(path, "kind"), "missing: " + std::string(kind_names));
    return implied;
  }
  std::string text;
  if (!r.string(j["kind"], Reader::at(path, "kind"), text)) return std::nullopt;
  auto kind = kind_named(text);
  if (!kind) {
    r.error(Reader::at(path, "kind"), "unknown kind \"" + text + "\" (expected " + std::string(kind_names) + ")");
    return std::nullopt;
  }
  if (implied && *implied != *kind) {
    r.error(Reader::at(path, "kind"), "the listener named \"" + name + "\" is of kind \"" + name +
                                          "\" (the name is a kind in routes' frontend matcher); give it another name");
    return std::nullopt;
  }
  return kind;
}

void read_auth(Reader& r, const json& j, const std::string& path, Listener& l) {
  std::string a;
  if (!r.string(j, path, a)) return;
  bool http_only = l.kind == ListenerKind::http;
  if (a == "none") l.auth = AuthMode::none;
  else if (a == "password") l.auth = AuthMode::password;
  else if (a == "optional" && !http_only) l.auth = AuthMode::optional;
  else
    r.error(path, "unknown auth \"" + a +
                      (http_only ? "\" (expected \"none\" or \"password\")" : "\" (expected \"none\", \"password\" or \"optional\")"));
}

/// The admin API's own keys: who may call it from a browser.
void read_admin_keys(Reader& r, const json& j, const std::string& path, Listener& l) {
  if (j.contains("token")) r.string(j["token"], Reader::at(path, "token"), l.token);
  if (j.contains("hosts"))
    r.strings(j["hosts"], Reader::at(path, "hosts"), [&](const std::string& s, const std::string& p) {
      if (auto name = normalize_host_name(s)) l.hosts.push_back(std::move(*name));
      else r.error(p, "\"" + s + "\" is not a host name (a DNS name without port, e.g. \"hopgate.default.svc\"; IP literals and localhost are always accepted)");
    });
  if (j.contains("cors_origins"))
    r.strings(j["cors_origins"], Reader::at(path, "cors_origins"), [&](const std::string& s, const std::string& p) {
      if (auto origin = normalize_origin(s)) l.cors_origins.push_back(std::move(*origin));
      else r.error(p, "\"" + s + "\" is not an origin (scheme://host[:port] with scheme http or https, no path; \"*\" and \"null\" are not allowed)");
    });
  if (j.contains("private_network")) r.boolean(j["private_network"], Reader::at(path, "private_network"), l.private_network);
}

std::optional<Listener> read_listener(Reader& r, const json& j, const std::string& path, const std::string& name) {
  auto kind = read_kind(r, j, path, name);
  if (!kind) return std::nullopt;
  Listener l;
  l.name = name;
  l.kind = *kind;
  bool admin = l.kind == ListenerKind::admin;
  std::initializer_list<std::string_view> keys_front{"kind", "listen", "auth", "protocols", "allow", "deny", "open_proxy"};
  std::initializer_list<std::string_view> keys_admin{"kind", "listen", "token", "allow", "deny", "hosts", "cors_origins", "private_network"};
  if (!r.object(j, path, admin ? keys_admin : keys_front)) return std::nullopt;
  if (!j.contains("listen")) r.error(Reader::at(path, "listen"), "missing (e.g. \"127.0.0.1:1080\")");
  else
    r.strings(j["listen"], Reader::at(path, "listen"), [&](const std::string& s, const std::string& p) {
      std::string why;
      if (auto ep = parse_listen_address(s, why)) l.listen.push_back(*ep);
      else r.error(p, why);
    });
  if (j.contains("auth")) read_auth(r, j["auth"], Reader::at(path, "auth"), l);
  if (j.contains("protocols")) {
    r.protocols(j["protocols"], Reader::at(path, "protocols"), l.protocols);
    if (l.protocols.empty()) r.error(Reader::at(path, "protocols"), "must name at least one of \"http\", \"socks\"");
  } else if (l.kind == ListenerKind::http) l.protocols = {Protocol::http};
  else if (l.kind == ListenerKind::socks) l.protocols = {Protocol::socks};
  if (j.contains("allow")) r.cidrs(j["allow"], Reader::at(path, "allow"), l.allow);
  if (j.contains("deny")) r.cidrs(j["deny"], Reader::at(path, "deny"), l.deny);
  if (j.contains("open_proxy")) r.boolean(j["open_proxy"], Reader::at(path, "open_proxy"), l.open_proxy);
  if (admin) read_admin_keys(r, j, path, l);
  return l;
}

bool is_loopback(const boost::asio::ip::address& a) { return unmap_v4(a).is_loopback(); }

bool exposed(const Listener& l) {
  return std::any_of(l.listen.begin(), l.listen.end(), [](auto& ep) { return !is_loopback(ep.address()); });
}

} // namespace

void load_listeners(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("listeners")) {
    r.error("/listeners", "missing: at least one of http, socks");
    return;
  }
  const auto& L = doc["listeners"];
  if (!L.is_object()) {
    r.error("/listeners", "expected an object, got " + type_name(L));
    return;
  }
  std::string admin; // the admin listener's name, once one is read
  for (auto& [name, j] : L.items()) {
    auto path = Reader::at("/listeners", name);
    if (name.empty()) {
      r.error(path, "empty listener name");
      continue;
    }
    auto l = read_listener(r, j, path, name);
    if (!l) continue;
    c.listeners.all.push_back(std::move(*l));
    if (c.listeners.all.back().kind != ListenerKind::admin) continue;
    // One admin API: its token, hosts and origins are the API's, not a port's.
    if (!admin.empty()) r.error(Reader::at(path, "kind"), "a second admin listener (\"" + admin + "\" is one): list both addresses in its \"listen\"");
    else admin = name;
  }
}

void check_listeners(Reader& r, const json& doc, const Config& c) {
  bool any_front = std::any_of(c.listeners.all.begin(), c.listeners.all.end(),
                               [](auto& l) { return l.kind != ListenerKind::admin; });
  if (!any_front && doc.contains("listeners"))
    r.error("/listeners", "at least one of http, socks is needed");
  for (auto& l : c.listeners.all) {
    auto p = Reader::at("/listeners", l.name);
    if (l.kind == ListenerKind::admin) {
      if (exposed(l) && l.token.empty())
        r.error(Reader::at(p, "token"), "missing: the admin API listens on a non-loopback address and needs a bearer token");
      continue;
    }
    if (l.auth != AuthMode::none && c.users.empty()) r.error(Reader::at(p, "auth"), "password auth needs at least one entry in /users");
    if (exposed(l) && l.auth == AuthMode::none && l.allow.empty() && !l.open_proxy)
      r.error(p, "listens on a non-loopback address with no auth and no allow list: that is an open proxy anyone can abuse; "
                 "set \"auth\": \"password\", an \"allow\" list, or \"open_proxy\": true if you really mean it");
  }
}

} // namespace hopgate::config
