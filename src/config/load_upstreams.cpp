// The /upstreams section: single hops (a URL, or an object with a URL and options), named
// chains and failover groups; then the references between them.
#include "hopgate/config/sections.hpp"
#include "hopgate/core/target.hpp"

#include <initializer_list>
#include <utility>

namespace hopgate::config {
namespace {

/// One of a few words, each standing for a value of E; anything else is an error naming them.
template <class E>
void read_word(Reader& r, const json& v, const std::string& p, std::initializer_list<std::pair<std::string_view, E>> words,
               std::string_view what, E& out) {
  std::string s;
  if (!r.string(v, p, s)) return;
  std::string names;
  std::size_t i = 0;
  for (auto& [word, value] : words) {
    if (s == word) {
      out = value;
      return;
    }
    names += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + std::string(word);
    ++i;
  }
  r.error(p, "unknown " + std::string(what) + " \"" + s + "\" (expected " + names + ")");
}

std::optional<Group> read_group(Reader& r, const json& v, const std::string& p) {
  if (!r.object(v, p, {"group", "strategy", "hash_key", "max_fails", "fail_window", "probe", "interval"})) return std::nullopt;
  Group g;
  r.strings(v["group"], Reader::at(p, "group"), [&](const std::string& s, const std::string&) { g.members.push_back(s); });
  if (g.members.empty()) r.error(Reader::at(p, "group"), "a group needs at least one member");
  using S = Group::Strategy;
  if (v.contains("strategy"))
    read_word<S>(r, v["strategy"], Reader::at(p, "strategy"),
                 {{"failover", S::failover}, {"round-robin", S::round_robin}, {"least-connections", S::least_connections},
                  {"random", S::random}, {"hash", S::hash}},
                 "strategy", g.strategy);
  using K = Group::HashKey;
  if (v.contains("hash_key"))
    read_word<K>(r, v["hash_key"], Reader::at(p, "hash_key"), {{"target", K::target}, {"client", K::client}, {"user", K::user}},
                 "hash_key", g.hash_key);
  if (v.contains("max_fails")) r.unsigned_number(v["max_fails"], Reader::at(p, "max_fails"), g.max_fails, 1000u);
  if (v.contains("fail_window")) r.seconds(v["fail_window"], Reader::at(p, "fail_window"), g.fail_window);
  if (v.contains("interval")) r.seconds(v["interval"], Reader::at(p, "interval"), g.probe_interval);
  if (v.contains("probe")) {
    if (r.string(v["probe"], Reader::at(p, "probe"), g.probe) && !TargetAddress::parse(g.probe))
      r.error(Reader::at(p, "probe"), "expected host:port");
  }
  if (g.probe_interval.count() > 0 && g.probe.empty()) r.error(Reader::at(p, "probe"), "missing: an interval needs a probe target");
  return g;
}

std::optional<Chain> read_chain(Reader& r, const json& v, const std::string& p) {
  if (!r.object(v, p, {"chain"})) return std::nullopt;
  Chain ch;
  r.strings(v["chain"], Reader::at(p, "chain"), [&](const std::string& s, const std::string&) { ch.hops.push_back(s); });
  if (ch.hops.empty()) r.error(Reader::at(p, "chain"), "a chain needs at least one hop");
  return ch;
}

/// {"url": ..., "auth": "client" | "url", "connect_timeout": seconds}
std::optional<Hop> read_hop_object(Reader& r, const json& v, const std::string& p) {
  if (!r.object(v, p, {"url", "auth", "connect_timeout"})) return std::nullopt;
  std::string url;
  if (!v.contains("url")) {
    r.error(Reader::at(p, "url"), "missing");
    return std::nullopt;
  }
  if (!r.string(v["url"], Reader::at(p, "url"), url)) return std::nullopt;
  std::string why;
  auto hop = parse_hop_url(url, why);
  if (!hop) {
    r.error(Reader::at(p, "url"), why);
    return std::nullopt;
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
  return hop;
}

/// What one entry of /upstreams is; nullopt (with the error reported) when it is none.
std::optional<decltype(Upstream::kind)> read_upstream(Reader& r, const json& v, const std::string& p) {
  if (v.is_string()) {
    std::string why;
    if (auto hop = parse_hop_url(v.get<std::string>(), why)) return *hop;
    r.error(p, why);
    return std::nullopt;
  }
  if (v.is_object() && v.contains("chain")) {
    if (auto ch = read_chain(r, v, p)) return *ch;
    return std::nullopt;
  }
  if (v.is_object() && v.contains("group")) {
    if (auto g = read_group(r, v, p)) return *g;
    return std::nullopt;
  }
  if (v.is_object()) {
    if (auto hop = read_hop_object(r, v, p)) return *hop;
    return std::nullopt;
  }
  r.error(p, "expected an upstream URL string or an object, got " + type_name(v));
  return std::nullopt;
}

void check_chain_hops(Reader& r, const Config& c, const Chain& ch, const std::string& p) {
  for (std::size_t h = 0; h < ch.hops.size(); ++h) {
    auto* hop = c.find_upstream(ch.hops[h]);
    if (!hop) r.error(Reader::at(Reader::at(p, "chain"), h), "unknown upstream \"" + ch.hops[h] + "\"");
    else if (!std::holds_alternative<Hop>(hop->kind))
      r.error(Reader::at(Reader::at(p, "chain"), h),
              "a hop of a named chain must be a single upstream, not a group or a chain (\"" + ch.hops[h] + "\")");
  }
}

void check_group_members(Reader& r, const Config& c, const Group& g, const std::string& p) {
  for (std::size_t m = 0; m < g.members.size(); ++m) {
    auto* member = c.find_upstream(g.members[m]);
    if (!member) r.error(Reader::at(Reader::at(p, "group"), m), "unknown upstream \"" + g.members[m] + "\"");
    else if (std::holds_alternative<Group>(member->kind))
      r.error(Reader::at(Reader::at(p, "group"), m), "a group member must be an upstream or a chain, not another group (\"" + g.members[m] + "\")");
  }
}

} // namespace

void load_upstreams(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("upstreams")) return;
  const auto& UP = doc["upstreams"];
  if (!UP.is_object()) {
    r.error("/upstreams", "expected an object of name: URL or group");
    return;
  }
  for (auto& [name, v] : UP.items()) {
    auto p = Reader::at("/upstreams", name);
    if (name == "direct" || name == "block" || name.empty()) {
      r.error(p, "\"" + name + "\" is reserved and cannot name an upstream");
      continue;
    }
    auto kind = read_upstream(r, v, p);
    if (!kind) continue;
    Upstream up;
    up.name = name;
    up.kind = std::move(*kind);
    c.upstreams.push_back(std::move(up));
  }
}

void check_upstreams(Reader& r, const Config& c) {
  for (const auto& up : c.upstreams) {
    auto p = Reader::at("/upstreams", up.name);
    if (auto* ch = std::get_if<Chain>(&up.kind)) check_chain_hops(r, c, *ch, p);
    else if (auto* g = std::get_if<Group>(&up.kind)) check_group_members(r, c, *g, p);
  }
}

} // namespace hopgate::config
