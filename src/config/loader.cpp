#include "hopgate/config/loader.hpp"
#include "hopgate/core/authority.hpp"
#include "hopgate/core/target.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace hopgate::config {
using hopgate::TargetAddress;
using hopgate::normalize_host;

using nlohmann::json;

namespace {

std::string escape_pointer(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string type_name(const json& j) { return j.type_name(); }

/// Walks the document collecting every error with its path; parsing goes on after an error
/// so that one run reports them all.
class Reader {
public:
  std::vector<ConfigError> errors;

  void error(const std::string& path, std::string message) { errors.push_back({path, std::move(message)}); }

  static std::string at(const std::string& path, std::string_view key) { return path + "/" + escape_pointer(key); }
  static std::string at(const std::string& path, std::size_t i) { return path + "/" + std::to_string(i); }

  /// Reports keys not in `known`; returns false if `j` is not an object.
  bool object(const json& j, const std::string& path, std::initializer_list<std::string_view> known) {
    if (!j.is_object()) {
      error(path, "expected an object, got " + type_name(j));
      return false;
    }
    for (auto& [k, v] : j.items()) {
      bool ok = false;
      for (auto n : known) ok = ok || n == k;
      if (!ok) error(at(path, k), "unknown key");
    }
    return true;
  }

  bool string(const json& j, const std::string& path, std::string& out) {
    if (!j.is_string()) {
      error(path, "expected a string, got " + type_name(j));
      return false;
    }
    out = j.get<std::string>();
    return true;
  }

  bool boolean(const json& j, const std::string& path, bool& out) {
    if (!j.is_boolean()) {
      error(path, "expected true or false, got " + type_name(j));
      return false;
    }
    out = j.get<bool>();
    return true;
  }

  template <class T> bool unsigned_number(const json& j, const std::string& path, T& out, T max) {
    if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<long long>() >= 0)) {
      error(path, "expected a non-negative integer, got " + (j.is_number() ? j.dump() : type_name(j)));
      return false;
    }
    auto v = j.get<unsigned long long>();
    if (v > static_cast<unsigned long long>(max)) {
      error(path, "must be at most " + std::to_string(max));
      return false;
    }
    out = static_cast<T>(v);
    return true;
  }

  bool seconds(const json& j, const std::string& path, Seconds& out) {
    if (!j.is_number() || j.get<double>() < 0) {
      error(path, "expected a non-negative number of seconds, got " + (j.is_number() ? j.dump() : type_name(j)));
      return false;
    }
    out = Seconds(j.get<double>());
    return true;
  }

  /// A string or an array of strings, each passed to `each` with its path.
  void strings(const json& j, const std::string& path, const std::function<void(const std::string&, const std::string&)>& each) {
    if (j.is_string()) {
      each(j.get<std::string>(), path);
      return;
    }
    if (!j.is_array()) {
      error(path, "expected a string or an array of strings, got " + type_name(j));
      return;
    }
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (!j[i].is_string()) error(at(path, i), "expected a string, got " + type_name(j[i]));
      else each(j[i].get<std::string>(), at(path, i));
    }
  }

  void cidrs(const json& j, const std::string& path, std::vector<Cidr>& out) {
    strings(j, path, [&](const std::string& s, const std::string& p) {
      if (auto c = Cidr::parse(s)) out.push_back(*c);
      else error(p, "bad CIDR \"" + s + "\" (expected e.g. 10.0.0.0/8 or fd00::/8)");
    });
  }

  void ports(const json& j, const std::string& path, std::vector<PortRange>& out) {
    auto one = [&](const std::string& s, const std::string& p) {
      if (auto r = parse_port_range(s)) out.push_back(*r);
      else error(p, "bad port \"" + s + "\" (expected 1-65535 or a range like \"8000-8999\")");
    };
    if (j.is_number_integer()) {
      one(j.dump(), path);
      return;
    }
    if (j.is_array()) {
      for (std::size_t i = 0; i < j.size(); ++i) {
        if (j[i].is_number_integer()) one(j[i].dump(), at(path, i));
        else if (j[i].is_string()) one(j[i].get<std::string>(), at(path, i));
        else error(at(path, i), "expected a port number or range string, got " + type_name(j[i]));
      }
      return;
    }
    strings(j, path, one);
  }

  void protocols(const json& j, const std::string& path, std::vector<Protocol>& out) {
    strings(j, path, [&](const std::string& s, const std::string& p) {
      if (s == "http") out.push_back(Protocol::http);
      else if (s == "socks") out.push_back(Protocol::socks);
      else error(p, "unknown front end \"" + s + "\" (expected \"http\" or \"socks\")");
    });
  }

  std::optional<Listener> listener(const json& j, const std::string& path, std::string_view kind) {
    Listener l;
    bool front = kind != "admin";
    std::initializer_list<std::string_view> keys_front{"listen", "auth", "protocols", "allow", "deny", "open_proxy"};
    std::initializer_list<std::string_view> keys_admin{"listen", "token", "allow", "deny", "hosts", "cors_origins", "private_network"};
    if (!object(j, path, front ? keys_front : keys_admin)) return std::nullopt;
    if (!j.contains("listen")) error(at(path, "listen"), "missing (e.g. \"127.0.0.1:1080\")");
    else
      strings(j["listen"], at(path, "listen"), [&](const std::string& s, const std::string& p) {
        std::string why;
        if (auto ep = parse_listen_address(s, why)) l.listen.push_back(*ep);
        else error(p, why);
      });
    if (j.contains("auth")) {
      std::string a;
      if (string(j["auth"], at(path, "auth"), a)) {
        if (a == "none") l.auth = AuthMode::none;
        else if (a == "password") l.auth = AuthMode::password;
        else if (a == "optional" && kind != "http") l.auth = AuthMode::optional;
        else error(at(path, "auth"), "unknown auth \"" + a + (kind == "http" ? "\" (expected \"none\" or \"password\")" : "\" (expected \"none\", \"password\" or \"optional\")"));
      }
    }
    if (j.contains("protocols")) {
      protocols(j["protocols"], at(path, "protocols"), l.protocols);
      if (l.protocols.empty()) error(at(path, "protocols"), "must name at least one of \"http\", \"socks\"");
    } else if (kind == "http") l.protocols = {Protocol::http};
    else if (kind == "socks") l.protocols = {Protocol::socks};
    if (j.contains("token")) string(j["token"], at(path, "token"), l.token);
    if (j.contains("allow")) cidrs(j["allow"], at(path, "allow"), l.allow);
    if (j.contains("deny")) cidrs(j["deny"], at(path, "deny"), l.deny);
    if (j.contains("open_proxy")) boolean(j["open_proxy"], at(path, "open_proxy"), l.open_proxy);
    if (j.contains("hosts"))
      strings(j["hosts"], at(path, "hosts"), [&](const std::string& s, const std::string& p) {
        if (auto name = normalize_host_name(s)) l.hosts.push_back(std::move(*name));
        else error(p, "\"" + s + "\" is not a host name (a DNS name without port, e.g. \"hopgate.default.svc\"; IP literals and localhost are always accepted)");
      });
    if (j.contains("cors_origins"))
      strings(j["cors_origins"], at(path, "cors_origins"), [&](const std::string& s, const std::string& p) {
        if (auto origin = normalize_origin(s)) l.cors_origins.push_back(std::move(*origin));
        else error(p, "\"" + s + "\" is not an origin (scheme://host[:port] with scheme http or https, no path; \"*\" and \"null\" are not allowed)");
      });
    if (j.contains("private_network")) boolean(j["private_network"], at(path, "private_network"), l.private_network);
    return l;
  }

  Via via(const json& j, const std::string& path) {
    Via v;
    if (j.is_string()) {
      auto s = j.get<std::string>();
      if (s == "direct") v.kind = Via::Kind::direct;
      else if (s == "block") v.kind = Via::Kind::block;
      else if (s.empty()) error(path, "empty upstream name");
      else {
        v.kind = Via::Kind::chain;
        v.chain = {s};
      }
    } else if (j.is_array()) {
      v.kind = Via::Kind::chain;
      if (j.empty()) error(path, "empty chain (use \"direct\")");
      strings(j, path, [&](const std::string& s, const std::string& p) {
        if (s == "direct" || s == "block") error(p, "\"" + s + "\" cannot be a hop in a chain");
        v.chain.push_back(s);
      });
    } else {
      error(path, "expected \"direct\", \"block\", an upstream name or a list of upstream names, got " + type_name(j));
    }
    return v;
  }
};

bool is_loopback(const boost::asio::ip::address& a) { return unmap_v4(a).is_loopback(); }

} // namespace

std::string Hop::display() const {
  return std::string(to_string(scheme)) + "://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string Via::display() const {
  if (kind == Kind::direct) return "direct";
  if (kind == Kind::block) return "block";
  std::string out;
  for (auto& h : chain) out += (out.empty() ? "" : " -> ") + h;
  return out;
}

const Upstream* Config::find_upstream(std::string_view name) const {
  for (auto& u : upstreams)
    if (u.name == name) return &u;
  return nullptr;
}

std::vector<NamedHop> Config::hops_of(const Upstream& up) const {
  std::vector<NamedHop> out;
  if (auto* h = std::get_if<Hop>(&up.kind)) out.push_back({&up.name, h});
  else if (auto* c = std::get_if<Chain>(&up.kind))
    for (const auto& name : c->hops)
      if (const auto* u = find_upstream(name))
        if (auto* h = std::get_if<Hop>(&u->kind)) out.push_back({&u->name, h});
  return out;
}

const Hop* Config::last_hop_of(const Upstream& up) const {
  if (auto* h = std::get_if<Hop>(&up.kind)) return h;
  if (auto* c = std::get_if<Chain>(&up.kind))
    for (auto it = c->hops.rbegin(); it != c->hops.rend(); ++it)
      if (const auto* u = find_upstream(*it))
        if (auto* h = std::get_if<Hop>(&u->kind)) return h;
  return nullptr;
}

namespace {

/// Each one-hop-or-chain that `up` stands for (itself, or each member of a group), reduced to one
/// of its hops by `pick`.
template <class Pick> std::vector<const Hop*> edge_hops(const Config& c, const Upstream& up, Pick pick) {
  std::vector<const Hop*> out;
  auto take = [&](const Upstream& u) {
    if (auto hops = c.hops_of(u); !hops.empty()) out.push_back(pick(hops));
  };
  if (auto* g = std::get_if<Group>(&up.kind)) {
    for (const auto& m : g->members)
      if (const auto* u = c.find_upstream(m)) take(*u);
  } else {
    take(up);
  }
  return out;
}

} // namespace

std::vector<const Hop*> Config::first_hops(const Upstream& up) const {
  return edge_hops(*this, up, [](const auto& hops) { return hops.front().hop; });
}

std::vector<const Hop*> Config::last_hops(const Upstream& up) const {
  return edge_hops(*this, up, [](const auto& hops) { return hops.back().hop; });
}

const User* Config::find_user(std::string_view name) const {
  for (auto& u : users)
    if (u.name == name) return &u;
  return nullptr;
}

std::string_view to_string(Protocol p) { return p == Protocol::http ? "http" : "socks"; }

std::string_view to_string(Hop::Scheme s) {
  switch (s) {
  case Hop::Scheme::socks4: return "socks4";
  case Hop::Scheme::socks4a: return "socks4a";
  case Hop::Scheme::socks5: return "socks5";
  case Hop::Scheme::socks5h: return "socks5h";
  case Hop::Scheme::http: return "http";
  }
  return "?";
}

std::optional<PortRange> parse_port_range(std::string_view text) {
  auto num = [](std::string_view s, unsigned& v) {
    if (s.empty() || s.size() > 5) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && p == s.data() + s.size() && v >= 1 && v <= 65535;
  };
  unsigned a = 0, b = 0;
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!num(text, a)) return std::nullopt;
    b = a;
  } else if (!num(text.substr(0, dash), a) || !num(text.substr(dash + 1), b) || a > b) {
    return std::nullopt;
  }
  return PortRange{static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)};
}

namespace {
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc{} && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}
} // namespace

std::optional<Hop> parse_hop_url(std::string_view url, std::string& error) {
  Hop hop;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    error = "expected a URL like socks5h://127.0.0.1:9050";
    return std::nullopt;
  }
  auto scheme = url.substr(0, sep);
  if (scheme == "socks4") hop.scheme = Hop::Scheme::socks4;
  else if (scheme == "socks4a") hop.scheme = Hop::Scheme::socks4a;
  else if (scheme == "socks5") hop.scheme = Hop::Scheme::socks5;
  else if (scheme == "socks5h") hop.scheme = Hop::Scheme::socks5h;
  else if (scheme == "http") hop.scheme = Hop::Scheme::http;
  else {
    error = "unknown scheme \"" + std::string(scheme) + "\" (expected socks4, socks4a, socks5, socks5h or http)";
    return std::nullopt;
  }
  auto rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('?') != std::string_view::npos) {
    error = "an upstream URL has no path";
    return std::nullopt;
  }
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    auto cred = rest.substr(0, at);
    auto colon = cred.find(':');
    hop.username = percent_decode(cred.substr(0, colon));
    if (colon != std::string_view::npos) hop.password = percent_decode(cred.substr(colon + 1));
    rest = rest.substr(at + 1);
    if (hop.username.size() > 255 || hop.password.size() > 255) {
      error = "user name and password are limited to 255 bytes";
      return std::nullopt;
    }
    if (hop.scheme == Hop::Scheme::socks4 || hop.scheme == Hop::Scheme::socks4a) {
      if (!hop.password.empty()) {
        error = "SOCKS4 has no password (only a user id)";
        return std::nullopt;
      }
    }
  }
  auto target = TargetAddress::parse(rest);
  if (!target || target->port == 0) {
    error = "expected host:port after the scheme (e.g. socks5h://127.0.0.1:9050)";
    return std::nullopt;
  }
  hop.host = target->host();
  hop.port = target->port;
  return hop;
}

std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view text, std::string& error) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "bad listen address \"" + std::string(text) + "\" (expected [v6]:port)";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.substr(0, colon).find(':') != std::string_view::npos) {
      error = "bad listen address \"" + std::string(text) + "\" (expected host:port, [v6]:port for IPv6)";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p > 65535) {
    error = "bad port in listen address \"" + std::string(text) + "\" (0-65535; 0 picks a free port)";
    return std::nullopt;
  }
  if (host == "localhost") host = "127.0.0.1";
  if (host == "*" || host.empty()) host = "0.0.0.0";
  boost::system::error_code aec;
  auto addr = boost::asio::ip::make_address(std::string(host), aec);
  if (aec) {
    error = "listen host must be an IP address, got \"" + std::string(host) + "\"";
    return std::nullopt;
  }
  return boost::asio::ip::tcp::endpoint(addr, static_cast<std::uint16_t>(p));
}

LoadResult load_config(const json& doc) {
  Reader r;
  Config c;
  if (!r.object(doc, "", {"listeners", "users", "upstreams", "routes", "default", "timeouts", "http", "limits", "udp",
                          "dns", "log", "workers", "deny_private_targets", "$schema"}))
    return {std::nullopt, r.errors};

  // listeners
  if (doc.contains("listeners")) {
    const auto& L = doc["listeners"];
    if (r.object(L, "/listeners", {"http", "socks", "admin"})) {
      if (L.contains("http")) c.listeners.http = r.listener(L["http"], "/listeners/http", "http");
      if (L.contains("socks")) c.listeners.socks = r.listener(L["socks"], "/listeners/socks", "socks");
      if (L.contains("admin")) c.listeners.admin = r.listener(L["admin"], "/listeners/admin", "admin");
    }
  } else {
    r.error("/listeners", "missing: at least one of http, socks");
  }

  // users
  if (doc.contains("users")) {
    const auto& U = doc["users"];
    if (!U.is_array()) r.error("/users", "expected an array of {\"name\", \"password\"}");
    else
      for (std::size_t i = 0; i < U.size(); ++i) {
        auto p = Reader::at("/users", i);
        if (!r.object(U[i], p, {"name", "password"})) continue;
        User u;
        if (!U[i].contains("name")) r.error(Reader::at(p, "name"), "missing");
        else r.string(U[i]["name"], Reader::at(p, "name"), u.name);
        if (!U[i].contains("password")) r.error(Reader::at(p, "password"), "missing");
        else r.string(U[i]["password"], Reader::at(p, "password"), u.password);
        if (u.name.size() > 255 || u.password.size() > 255) r.error(p, "name and password are limited to 255 bytes (RFC 1929)");
        if (!u.name.empty() && c.find_user(u.name)) r.error(Reader::at(p, "name"), "duplicate user \"" + u.name + "\"");
        if (U[i].contains("name") && u.name.empty()) r.error(Reader::at(p, "name"), "empty user name");
        c.users.push_back(std::move(u));
      }
  }

  // upstreams
  if (doc.contains("upstreams")) {
    const auto& UP = doc["upstreams"];
    if (!UP.is_object()) r.error("/upstreams", "expected an object of name: URL or group");
    else
      for (auto& [name, v] : UP.items()) {
        auto p = Reader::at("/upstreams", name);
        if (name == "direct" || name == "block" || name.empty()) {
          r.error(p, "\"" + name + "\" is reserved and cannot name an upstream");
          continue;
        }
        Upstream up;
        up.name = name;
        if (v.is_string()) {
          std::string why;
          if (auto hop = parse_hop_url(v.get<std::string>(), why)) up.kind = *hop;
          else {
            r.error(p, why);
            continue;
          }
        } else if (v.is_object() && v.contains("chain")) {
          if (!r.object(v, p, {"chain"})) continue;
          Chain ch;
          r.strings(v["chain"], Reader::at(p, "chain"), [&](const std::string& s, const std::string&) { ch.hops.push_back(s); });
          if (ch.hops.empty()) r.error(Reader::at(p, "chain"), "a chain needs at least one hop");
          up.kind = ch;
        } else if (v.is_object() && v.contains("group")) {
          if (!r.object(v, p, {"group", "strategy", "hash_key", "max_fails", "fail_window", "probe", "interval"})) continue;
          Group g;
          r.strings(v["group"], Reader::at(p, "group"), [&](const std::string& s, const std::string&) { g.members.push_back(s); });
          if (g.members.empty()) r.error(Reader::at(p, "group"), "a group needs at least one member");
          if (v.contains("strategy")) {
            std::string s;
            if (r.string(v["strategy"], Reader::at(p, "strategy"), s)) {
              if (s == "failover") g.strategy = Group::Strategy::failover;
              else if (s == "round-robin") g.strategy = Group::Strategy::round_robin;
              else if (s == "least-connections") g.strategy = Group::Strategy::least_connections;
              else if (s == "random") g.strategy = Group::Strategy::random;
              else if (s == "hash") g.strategy = Group::Strategy::hash;
              else r.error(Reader::at(p, "strategy"), "unknown strategy \"" + s + "\" (expected failover, round-robin, least-connections, random or hash)");
            }
          }
          if (v.contains("hash_key")) {
            std::string s;
            if (r.string(v["hash_key"], Reader::at(p, "hash_key"), s)) {
              if (s == "target") g.hash_key = Group::HashKey::target;
              else if (s == "client") g.hash_key = Group::HashKey::client;
              else if (s == "user") g.hash_key = Group::HashKey::user;
              else r.error(Reader::at(p, "hash_key"), "unknown hash_key \"" + s + "\" (expected target, client or user)");
            }
          }
          if (v.contains("max_fails")) r.unsigned_number(v["max_fails"], Reader::at(p, "max_fails"), g.max_fails, 1000u);
          if (v.contains("fail_window")) r.seconds(v["fail_window"], Reader::at(p, "fail_window"), g.fail_window);
          if (v.contains("interval")) r.seconds(v["interval"], Reader::at(p, "interval"), g.probe_interval);
          if (v.contains("probe")) {
            if (r.string(v["probe"], Reader::at(p, "probe"), g.probe) && !TargetAddress::parse(g.probe))
              r.error(Reader::at(p, "probe"), "expected host:port");
          }
          if (g.probe_interval.count() > 0 && g.probe.empty()) r.error(Reader::at(p, "probe"), "missing: an interval needs a probe target");
          up.kind = g;
        } else if (v.is_object()) {
          if (!r.object(v, p, {"url", "auth", "connect_timeout"})) continue;
          std::string url;
          if (!v.contains("url")) {
            r.error(Reader::at(p, "url"), "missing");
            continue;
          }
          if (!r.string(v["url"], Reader::at(p, "url"), url)) continue;
          std::string why;
          auto hop = parse_hop_url(url, why);
          if (!hop) {
            r.error(Reader::at(p, "url"), why);
            continue;
          }
          if (v.contains("auth")) {
            std::string a;
            if (r.string(v["auth"], Reader::at(p, "auth"), a)) {
              if (a == "client") {
                if (hop->scheme != Hop::Scheme::socks5 && hop->scheme != Hop::Scheme::socks5h)
                  r.error(Reader::at(p, "auth"), "\"client\" credentials pass only to a SOCKS5 hop");
                hop->pass_client_credentials = true;
              } else if (a != "url") r.error(Reader::at(p, "auth"), "unknown auth \"" + a + "\" (expected \"client\" or \"url\")");
            }
          }
          if (v.contains("connect_timeout")) {
            Seconds s;
            if (r.seconds(v["connect_timeout"], Reader::at(p, "connect_timeout"), s)) hop->connect_timeout = s;
          }
          up.kind = *hop;
        } else {
          r.error(p, "expected an upstream URL string or an object, got " + type_name(v));
          continue;
        }
        c.upstreams.push_back(std::move(up));
      }
  }

  // routes
  auto check_chain = [&](const Via& v, const std::string& path) {
    if (v.kind != Via::Kind::chain) return;
    for (std::size_t i = 0; i < v.chain.size(); ++i) {
      if (!c.find_upstream(v.chain[i]))
        r.error(path, "unknown upstream \"" + v.chain[i] + "\"");
    }
  };
  if (doc.contains("routes")) {
    const auto& R = doc["routes"];
    if (!R.is_array()) r.error("/routes", "expected an array of routes");
    else
      for (std::size_t i = 0; i < R.size(); ++i) {
        auto p = Reader::at("/routes", i);
        if (!r.object(R[i], p, {"name", "match", "via", "resolve", "remote_dns", "allow_ports"})) continue;
        Route route;
        route.name = "routes[" + std::to_string(i) + "]";
        if (R[i].contains("name")) r.string(R[i]["name"], Reader::at(p, "name"), route.name);
        if (!R[i].contains("via")) r.error(Reader::at(p, "via"), "missing (\"direct\", \"block\" or upstream names)");
        else {
          route.via = r.via(R[i]["via"], Reader::at(p, "via"));
          check_chain(route.via, Reader::at(p, "via"));
        }
        if (R[i].contains("match")) {
          const auto& M = R[i]["match"];
          auto mp = Reader::at(p, "match");
          if (r.object(M, mp, {"domain", "cidr", "port", "frontend", "client", "user"})) {
            if (M.contains("domain"))
              r.strings(M["domain"], Reader::at(mp, "domain"), [&](const std::string& s, const std::string& dp) {
                auto d = normalize_host(s);
                if (d.empty() || d == "*" || d == ".") r.error(dp, "empty domain pattern");
                else route.match.domain.push_back(d);
              });
            if (M.contains("cidr")) r.cidrs(M["cidr"], Reader::at(mp, "cidr"), route.match.cidr);
            if (M.contains("port")) r.ports(M["port"], Reader::at(mp, "port"), route.match.port);
            if (M.contains("frontend")) r.protocols(M["frontend"], Reader::at(mp, "frontend"), route.match.frontend);
            if (M.contains("client")) r.cidrs(M["client"], Reader::at(mp, "client"), route.match.client);
            if (M.contains("user"))
              r.strings(M["user"], Reader::at(mp, "user"), [&](const std::string& s, const std::string& up) {
                if (!c.find_user(s)) r.error(up, "unknown user \"" + s + "\"");
                route.match.user.push_back(s);
              });
          }
        }
        if (R[i].contains("resolve")) r.boolean(R[i]["resolve"], Reader::at(p, "resolve"), route.resolve);
        if (R[i].contains("remote_dns")) {
          std::string s;
          if (r.string(R[i]["remote_dns"], Reader::at(p, "remote_dns"), s)) {
            if (s == "required") route.remote_dns = RemoteDns::required;
            else if (s == "any") route.remote_dns = RemoteDns::any;
            else r.error(Reader::at(p, "remote_dns"), "unknown value \"" + s + "\" (expected \"required\" or \"any\")");
          }
        }
        if (R[i].contains("allow_ports")) r.ports(R[i]["allow_ports"], Reader::at(p, "allow_ports"), route.allow_ports);
        c.routes.push_back(std::move(route));
      }
  }

  if (doc.contains("default")) {
    if (r.object(doc["default"], "/default", {"via"})) {
      if (doc["default"].contains("via")) {
        c.default_via = r.via(doc["default"]["via"], "/default/via");
        check_chain(c.default_via, "/default/via");
      }
    }
  }

  if (doc.contains("timeouts") && r.object(doc["timeouts"], "/timeouts",
                                           {"handshake", "connect", "idle", "shutdown_grace", "bind", "http_request", "http_keepalive"})) {
    const auto& T = doc["timeouts"];
    auto t = [&](const char* k, Seconds& out) {
      if (T.contains(k)) r.seconds(T[k], Reader::at("/timeouts", k), out);
    };
    t("handshake", c.timeouts.handshake);
    t("connect", c.timeouts.connect);
    t("idle", c.timeouts.idle);
    t("shutdown_grace", c.timeouts.shutdown_grace);
    t("bind", c.timeouts.bind);
    t("http_request", c.timeouts.http_request);
    t("http_keepalive", c.timeouts.http_keepalive);
  }

  if (doc.contains("http") && r.object(doc["http"], "/http", {"via", "x_forwarded_for", "max_header_bytes", "pool"})) {
    const auto& H = doc["http"];
    if (H.contains("via")) {
      if (H["via"].is_boolean()) c.http.via = H["via"].get<bool>() ? "1.1 hopgate" : "";
      else r.string(H["via"], "/http/via", c.http.via);
    }
    if (H.contains("x_forwarded_for")) r.boolean(H["x_forwarded_for"], "/http/x_forwarded_for", c.http.x_forwarded_for);
    if (H.contains("max_header_bytes")) {
      r.unsigned_number(H["max_header_bytes"], "/http/max_header_bytes", c.http.max_header_bytes, std::size_t{16} << 20);
      if (c.http.max_header_bytes < 1024) r.error("/http/max_header_bytes", "must be at least 1024");
    }
    if (H.contains("pool") && r.object(H["pool"], "/http/pool", {"max_idle_per_origin", "idle_timeout"})) {
      if (H["pool"].contains("max_idle_per_origin"))
        r.unsigned_number(H["pool"]["max_idle_per_origin"], "/http/pool/max_idle_per_origin", c.http.pool_max_idle_per_origin, std::size_t{1024});
      if (H["pool"].contains("idle_timeout")) r.seconds(H["pool"]["idle_timeout"], "/http/pool/idle_timeout", c.http.pool_idle_timeout);
    }
  }

  if (doc.contains("limits") && r.object(doc["limits"], "/limits", {"max_connections", "max_connections_per_client"})) {
    const auto& Li = doc["limits"];
    if (Li.contains("max_connections")) r.unsigned_number(Li["max_connections"], "/limits/max_connections", c.limits.max_connections, std::size_t{10'000'000});
    if (Li.contains("max_connections_per_client"))
      r.unsigned_number(Li["max_connections_per_client"], "/limits/max_connections_per_client", c.limits.max_connections_per_client, std::size_t{10'000'000});
  }

  if (doc.contains("udp") &&
      r.object(doc["udp"], "/udp", {"port_range", "max_associations", "max_associations_per_client", "max_datagram", "idle_timeout"})) {
    const auto& Ud = doc["udp"];
    if (Ud.contains("port_range") && !Ud["port_range"].is_null()) {
      std::string s;
      if (Ud["port_range"].is_number_integer()) s = Ud["port_range"].dump();
      else r.string(Ud["port_range"], "/udp/port_range", s);
      if (!s.empty()) {
        if (auto pr = parse_port_range(s)) c.udp.port_range = *pr;
        else r.error("/udp/port_range", "bad port range \"" + s + "\" (expected e.g. \"40000-40100\", or null for ephemeral ports)");
      }
    }
    if (Ud.contains("max_associations"))
      r.unsigned_number(Ud["max_associations"], "/udp/max_associations", c.udp.max_associations, std::size_t{10'000'000});
    if (Ud.contains("max_associations_per_client"))
      r.unsigned_number(Ud["max_associations_per_client"], "/udp/max_associations_per_client", c.udp.max_associations_per_client, std::size_t{10'000'000});
    if (Ud.contains("max_datagram")) {
      r.unsigned_number(Ud["max_datagram"], "/udp/max_datagram", c.udp.max_datagram, std::size_t{65507});
      if (c.udp.max_datagram < 512) r.error("/udp/max_datagram", "must be at least 512");
    }
    if (Ud.contains("idle_timeout")) r.seconds(Ud["idle_timeout"], "/udp/idle_timeout", c.udp.idle_timeout);
  }

  if (doc.contains("dns") && r.object(doc["dns"], "/dns", {"servers", "cache_size", "cache_max_ttl", "max_concurrent_lookups"})) {
    const auto& D = doc["dns"];
    if (D.contains("servers"))
      r.strings(D["servers"], "/dns/servers", [&](const std::string& s, const std::string& p) {
        std::string text = s;
        if (text.find("]:") == std::string::npos && std::count(text.begin(), text.end(), ':') != 1) text = (text.find(':') != std::string::npos ? "[" + text + "]" : text) + ":53";
        std::string why;
        if (auto ep = parse_listen_address(text, why)) c.dns.servers.emplace_back(ep->address(), ep->port() ? ep->port() : 53);
        else r.error(p, "bad DNS server \"" + s + "\" (expected an IP, optionally with :port)");
      });
    if (D.contains("cache_size")) r.unsigned_number(D["cache_size"], "/dns/cache_size", c.dns.cache_size, std::size_t{10'000'000});
    if (D.contains("cache_max_ttl")) r.seconds(D["cache_max_ttl"], "/dns/cache_max_ttl", c.dns.cache_max_ttl);
    if (D.contains("max_concurrent_lookups"))
      r.unsigned_number(D["max_concurrent_lookups"], "/dns/max_concurrent_lookups", c.dns.max_concurrent_lookups, std::size_t{1'000'000});
  }

  if (doc.contains("log") && r.object(doc["log"], "/log", {"level", "format"})) {
    if (doc["log"].contains("level") && r.string(doc["log"]["level"], "/log/level", c.log.level)) {
      static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
      if (!levels.count(c.log.level)) r.error("/log/level", "unknown level \"" + c.log.level + "\" (trace, debug, info, warn, error, critical, off)");
    }
    if (doc["log"].contains("format") && r.string(doc["log"]["format"], "/log/format", c.log.format)) {
      if (c.log.format != "text" && c.log.format != "json") r.error("/log/format", "expected \"text\" or \"json\"");
    }
  }

  if (doc.contains("workers")) r.unsigned_number(doc["workers"], "/workers", c.workers, 256u);
  if (doc.contains("deny_private_targets")) r.boolean(doc["deny_private_targets"], "/deny_private_targets", c.deny_private_targets);

  // Cross-checks that need the whole document.
  for (std::size_t i = 0; i < c.upstreams.size(); ++i) {
    auto p = Reader::at("/upstreams", c.upstreams[i].name);
    if (auto* ch = std::get_if<Chain>(&c.upstreams[i].kind)) {
      for (std::size_t h = 0; h < ch->hops.size(); ++h) {
        auto* hop = c.find_upstream(ch->hops[h]);
        if (!hop) r.error(Reader::at(Reader::at(p, "chain"), h), "unknown upstream \"" + ch->hops[h] + "\"");
        else if (!std::holds_alternative<Hop>(hop->kind))
          r.error(Reader::at(Reader::at(p, "chain"), h),
                  "a hop of a named chain must be a single upstream, not a group or a chain (\"" + ch->hops[h] + "\")");
      }
      continue;
    }
    auto* g = std::get_if<Group>(&c.upstreams[i].kind);
    if (!g) continue;
    for (std::size_t m = 0; m < g->members.size(); ++m) {
      auto* member = c.find_upstream(g->members[m]);
      if (!member) r.error(Reader::at(Reader::at(p, "group"), m), "unknown upstream \"" + g->members[m] + "\"");
      else if (std::holds_alternative<Group>(member->kind))
        r.error(Reader::at(Reader::at(p, "group"), m), "a group member must be an upstream or a chain, not another group (\"" + g->members[m] + "\")");
    }
  }
  if (!c.listeners.http && !c.listeners.socks && doc.contains("listeners"))
    r.error("/listeners", "at least one of http, socks is needed");
  auto check_front = [&](const std::optional<Listener>& l, const char* name) {
    if (!l) return;
    std::string p = std::string("/listeners/") + name;
    if (l->auth != AuthMode::none && c.users.empty()) r.error(Reader::at(p, "auth"), "password auth needs at least one entry in /users");
    bool exposed = false;
    for (auto& ep : l->listen) exposed = exposed || !is_loopback(ep.address());
    if (exposed && l->auth == AuthMode::none && l->allow.empty() && !l->open_proxy)
      r.error(p, "listens on a non-loopback address with no auth and no allow list: that is an open proxy anyone can abuse; "
                 "set \"auth\": \"password\", an \"allow\" list, or \"open_proxy\": true if you really mean it");
  };
  check_front(c.listeners.http, "http");
  check_front(c.listeners.socks, "socks");
  if (c.listeners.admin) {
    bool exposed = false;
    for (auto& ep : c.listeners.admin->listen) exposed = exposed || !is_loopback(ep.address());
    if (exposed && c.listeners.admin->token.empty())
      r.error("/listeners/admin/token", "missing: the admin API listens on a non-loopback address and needs a bearer token");
  }

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
