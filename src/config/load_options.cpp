// The sections of plain options: /timeouts, /http, /limits, /udp, /dns, /log, /workers and
// /deny_private_targets.
#include "hopgate/config/sections.hpp"

#include <algorithm>
#include <set>

namespace hopgate::config {
namespace {

void read_timeouts(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("timeouts") ||
      !r.object(doc["timeouts"], "/timeouts",
                {"handshake", "connect", "idle", "shutdown_grace", "bind", "http_request", "http_keepalive"}))
    return;
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

void read_http(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("http") || !r.object(doc["http"], "/http", {"via", "x_forwarded_for", "max_header_bytes", "pool"})) return;
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

void read_limits(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("limits") || !r.object(doc["limits"], "/limits", {"max_connections", "max_connections_per_client"})) return;
  const auto& Li = doc["limits"];
  if (Li.contains("max_connections")) r.unsigned_number(Li["max_connections"], "/limits/max_connections", c.limits.max_connections, std::size_t{10'000'000});
  if (Li.contains("max_connections_per_client"))
    r.unsigned_number(Li["max_connections_per_client"], "/limits/max_connections_per_client", c.limits.max_connections_per_client, std::size_t{10'000'000});
}

void read_udp(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("udp") ||
      !r.object(doc["udp"], "/udp",
                {"port_range", "max_associations", "max_associations_per_client", "max_datagram", "idle_timeout"}))
    return;
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

void read_dns(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("dns") || !r.object(doc["dns"], "/dns", {"servers", "cache_size", "cache_max_ttl", "max_concurrent_lookups"})) return;
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

void read_log(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("log") || !r.object(doc["log"], "/log", {"level", "format"})) return;
  if (doc["log"].contains("level") && r.string(doc["log"]["level"], "/log/level", c.log.level)) {
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!levels.count(c.log.level)) r.error("/log/level", "unknown level \"" + c.log.level + "\" (trace, debug, info, warn, error, critical, off)");
  }
  if (doc["log"].contains("format") && r.string(doc["log"]["format"], "/log/format", c.log.format)) {
    if (c.log.format != "text" && c.log.format != "json") r.error("/log/format", "expected \"text\" or \"json\"");
  }
}

} // namespace

void load_options(Reader& r, const json& doc, Config& c) {
  read_timeouts(r, doc, c);
  read_http(r, doc, c);
  read_limits(r, doc, c);
  read_udp(r, doc, c);
  read_dns(r, doc, c);
  read_log(r, doc, c);
  if (doc.contains("workers")) r.unsigned_number(doc["workers"], "/workers", c.workers, 256u);
  if (doc.contains("deny_private_targets")) r.boolean(doc["deny_private_targets"], "/deny_private_targets", c.deny_private_targets);
}

} // namespace hopgate::config
