#include "hopgate/admin/pac.hpp"

#include <nlohmann/json.hpp>
#include <sstream>

namespace hopgate::admin {
namespace {

std::string js_string(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool has_wildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

/// A glob over the whole name as a regular expression source ('*' any run, '?' one character).
std::string glob_regex(std::string_view glob) {
  std::string re = "^";
  for (char c : glob) {
    if (c == '*') re += ".*";
    else if (c == '?') re += ".";
    else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
             static_cast<unsigned char>(c) >= 0x80)
      re += c;
    else {
      re += '\\';
      re += c;
    }
  }
  return re + "$";
}

/// The same classification as the route table (routing/domain_index): exact, "*.x" strict
/// subdomains, ".x" the name and its subdomains, anything else with a wildcard a glob.
std::string domain_condition(const std::string& pattern, std::vector<std::string>& regexes) {
  if (pattern.starts_with("*.") && !has_wildcard(pattern.substr(2))) return "hgSub(host, " + js_string(pattern.substr(2)) + ")";
  if (pattern.starts_with('.') && !has_wildcard(pattern.substr(1))) {
    auto key = js_string(pattern.substr(1));
    return "(host == " + key + " || hgSub(host, " + key + "))";
  }
  if (has_wildcard(pattern)) {
    regexes.push_back(glob_regex(pattern));
    return "HG_RE[" + std::to_string(regexes.size() - 1) + "].test(host)";
  }
  return "host == " + js_string(pattern);
}

std::string cidr_condition(const Cidr& c) {
  std::ostringstream out;
  if (c.network.is_v4()) {
    auto b = c.network.to_v4().to_bytes();
    out << "(v4 && hgIn(v4, [" << int(b[0]) << ", " << int(b[1]) << ", " << int(b[2]) << ", " << int(b[3]) << "], "
        << int(c.prefix) << ", 8))";
  } else {
    auto b = c.network.to_v6().to_bytes();
    out << "(v6 && hgIn(v6, [";
    for (int i = 0; i < 8; ++i) out << (i ? ", " : "") << (b[2 * i] * 256 + b[2 * i + 1]);
    out << "], " << int(c.prefix) << ", 16))";
  }
  return out.str();
}

std::string port_condition(const std::vector<config::PortRange>& ports) {
  std::string out = "hgPortIn(port, [";
  for (std::size_t i = 0; i < ports.size(); ++i)
    out += (i ? ", [" : "[") + std::to_string(ports[i].first) + ", " + std::to_string(ports[i].last) + "]";
  return out + "])";
}

std::string join_and(const std::vector<std::string>& parts) {
  if (parts.empty()) return "true";
  std::string out;
  for (auto& p : parts) out += (out.empty() ? "" : " && ") + p;
  return out;
}

/// What the PAC returns for a request that certainly takes `via` on a rule: DIRECT only where
/// hopgate would really connect directly (ports allowed, no remote DNS demanded for a name).
std::string action(const config::Via& via, const config::Route* route) {
  if (via.kind != config::Via::Kind::direct) return "HG_PROXY";
  std::vector<std::string> ok{"!hgOnion(host)"};
  if (route && !route->allow_ports.empty()) ok.push_back(port_condition(route->allow_ports));
  if (route && route->remote_dns == config::RemoteDns::required) ok.push_back("!isName");
  return "(" + join_and(ok) + " ? \"DIRECT\" : HG_PROXY)";
}

constexpr const char* helpers = R"JS(
function hgHost(h) {
  h = String(h).toLowerCase();
  if (h.charAt(0) == "[" && h.charAt(h.length - 1) == "]") h = h.substring(1, h.length - 1);
  if (h.length > 1 && h.charAt(h.length - 1) == ".") h = h.substring(0, h.length - 1);
  return h;
}
function hgPort(url) {
  var m = /^([a-z][a-z0-9+.\-]*):\/\/(?:[^\/?#@]*@)?(\[[^\]]*\]|[^\/?#:]*)(?::(\d+))?/i.exec(String(url));
  if (!m) return 0;
  if (m[3]) return parseInt(m[3], 10);
  var s = m[1].toLowerCase();
  if (s == "https" || s == "wss") return 443;
  if (s == "ftp") return 21;
  return 80;
}
function hgV4(h) {
  var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (!m) return null;
  var out = [];
  for (var i = 1; i <= 4; i++) {
    var v = parseInt(m[i], 10);
    if (v > 255) return null;
    out.push(v);
  }
  return out;
}
function hgV6(h) {
  if (h.indexOf(":") < 0) return null;
  var zone = h.indexOf("%");
  if (zone >= 0) h = h.substring(0, zone);
  var halves = h.split("::");
  if (halves.length > 2) return null;
  function groups(s) {
    if (s == "") return [];
    var g = s.split(":"), out = [];
    for (var i = 0; i < g.length; i++) {
      if (i == g.length - 1 && g[i].indexOf(".") >= 0) {
        var v = hgV4(g[i]);
        if (!v) return null;
        out.push(v[0] * 256 + v[1], v[2] * 256 + v[3]);
      } else if (/^[0-9a-f]{1,4}$/.test(g[i])) {
        out.push(parseInt(g[i], 16));
      } else {
        return null;
      }
    }
    return out;
  }
  var a = groups(halves[0]);
  if (!a) return null;
  if (halves.length == 1) return a.length == 8 ? a : null;
  var b = groups(halves[1]);
  if (!b || a.length + b.length > 7) return null;
  while (a.length + b.length < 8) a.push(0);
  return a.concat(b);
}
function hgIn(addr, net, prefix, bits) {
  for (var i = 0; i < net.length && prefix > 0; i++) {
    var take = prefix < bits ? prefix : bits;
    var mask = ((1 << bits) - 1) - ((1 << (bits - take)) - 1);
    if ((addr[i] & mask) != (net[i] & mask)) return false;
    prefix -= take;
  }
  return true;
}
function hgSub(host, key) {
  return host.length > key.length + 1 && host.substring(host.length - key.length - 1) == "." + key;
}
function hgOnion(host) {
  return host == "onion" || hgSub(host, "onion");
}
function hgPortIn(port, ranges) {
  for (var i = 0; i < ranges.length; i++)
    if (port >= ranges[i][0] && port <= ranges[i][1]) return true;
  return false;
}
)JS";

} // namespace

std::string pac_proxy_string(const PacProxies& p) {
  std::string out;
  if (!p.http.empty()) out += "PROXY " + p.http;
  if (!p.socks.empty()) out += (out.empty() ? "" : "; ") + std::string("SOCKS5 ") + p.socks;
  return out;
}

std::string make_pac(const config::Config& cfg, const PacProxies& proxies, std::uint64_t generation) {
  std::vector<std::string> regexes;
  std::ostringstream body;
  for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
    const auto& r = cfg.routes[i];
    const auto& m = r.match;
    std::vector<std::string> decidable;
    if (!m.port.empty()) decidable.push_back(port_condition(m.port));
    if (!m.domain.empty()) {
      std::string any;
      for (auto& d : m.domain) any += (any.empty() ? "" : " || ") + domain_condition(d, regexes);
      decidable.push_back("isName && (" + any + ")");
    }
    // The browser cannot know the user, its own address as hopgate sees it, or which front end
    // it will end up on: a rule that depends on them is hopgate's to decide.
    // A rule for both protocols holds whatever the browser picks; one naming a listener does not.
    bool frontend_fixed = (m.frontend.empty() && m.listener.empty()) ||
                          (std::find(m.frontend.begin(), m.frontend.end(), config::Protocol::http) != m.frontend.end() &&
                           std::find(m.frontend.begin(), m.frontend.end(), config::Protocol::socks) != m.frontend.end());
    bool undecidable = !m.user.empty() || !m.client.empty() || !frontend_fixed;
    std::string act = undecidable ? "HG_PROXY" : action(r.via, &r);
    body << "  // " << js_string(r.name).substr(1, js_string(r.name).size() - 2) << " -> "
         << js_string(r.via.display()).substr(1, js_string(r.via.display()).size() - 2) << "\n";
    if (m.cidr.empty()) {
      body << "  if (" << join_and(decidable) << ") return " << act << ";\n";
      continue;
    }
    std::string cidrs;
    for (auto& c : m.cidr) cidrs += (cidrs.empty() ? "" : " || ") + cidr_condition(c);
    // A domain matcher never matches an IP; cidr matches a name only through hopgate's lookup
    // ("resolve": true), which the PAC leaves to hopgate.
    auto with = decidable;
    with.push_back("!isName && (" + cidrs + ")");
    body << "  if (" << join_and(with) << ") return " << act << ";\n";
    if (r.resolve) {
      auto names = decidable;
      names.push_back("isName");
      body << "  if (" << join_and(names) << ") return HG_PROXY;\n";
    }
  }
  body << "  // default -> " << js_string(cfg.default_via.display()).substr(1, js_string(cfg.default_via.display()).size() - 2)
       << "\n  return " << action(cfg.default_via, nullptr) << ";\n";

  std::ostringstream out;
  out << "// hopgate proxy auto-config, config generation " << generation << ".\n"
      << "// Generated from the route table: DIRECT where hopgate would go direct, hopgate otherwise.\n"
      << "var HG_PROXY = " << js_string(pac_proxy_string(proxies)) << ";\n"
      << "var HG_RE = [";
  for (std::size_t i = 0; i < regexes.size(); ++i) out << (i ? ", " : "") << "new RegExp(" << js_string(regexes[i]) << ")";
  out << "];\n"
      << helpers << "\n"
      << "function FindProxyForURL(url, host) {\n"
      << "  host = hgHost(host);\n"
      << "  var port = hgPort(url);\n"
      << "  var v4 = hgV4(host), v6 = v4 ? null : hgV6(host);\n"
      << "  if (v6 && v6[0] == 0 && v6[1] == 0 && v6[2] == 0 && v6[3] == 0 && v6[4] == 0 && v6[5] == 65535) {\n"
      << "    v4 = [v6[6] >> 8, v6[6] & 255, v6[7] >> 8, v6[7] & 255];\n"
      << "    v6 = null;\n"
      << "  }\n"
      << "  var isName = !v4 && !v6;\n"
      << body.str() << "}\n";
  return out.str();
}

} // namespace hopgate::admin
