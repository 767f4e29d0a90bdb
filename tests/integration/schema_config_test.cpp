// config/hopgate.schema.json against the loader: every shipped config validates and passes
// `hopgate --check`; a maximal config (every key) is accepted by both; broken configs are rejected
// by both; an unknown key anywhere is rejected by both. The validator below implements exactly the
// JSON Schema keywords the schema uses and refuses any other, so the schema cannot drift into
// keywords this test would silently ignore.
#include "hopgate/config/loader.hpp"
#include "support/hopgate_process.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

namespace hopgate::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

/// A validator for the subset of JSON Schema (2020-12) that hopgate.schema.json uses.
class SchemaValidator {
public:
  explicit SchemaValidator(json schema) : root_(std::move(schema)) { check_keywords(root_, "#"); }

  /// Every violation with its JSON pointer; empty when `doc` is valid.
  std::vector<std::string> validate(const json& doc) const {
    std::vector<std::string> errors;
    valid(root_, doc, "", &errors);
    return errors;
  }

private:
  static inline const std::set<std::string> assertions{
      "$ref", "type", "properties", "additionalProperties", "required", "enum", "items", "minItems", "anyOf", "oneOf",
      "not", "pattern", "minimum", "maximum", "minLength", "maxLength", "propertyNames"};
  static inline const std::set<std::string> annotations{"$schema", "$id", "$defs", "title", "description", "default"};

  /// Refuses a schema that uses a keyword this validator does not implement.
  void check_keywords(const json& s, const std::string& where) const {
    if (s.is_boolean()) return;
    if (!s.is_object()) throw std::runtime_error(where + ": a schema must be an object or a boolean");
    for (auto& [k, v] : s.items()) {
      if (!assertions.count(k) && !annotations.count(k)) throw std::runtime_error(where + ": unsupported keyword " + k);
      if (k == "properties" || k == "$defs")
        for (auto& [name, sub] : v.items()) check_keywords(sub, where + "/" + k + "/" + name);
      if (k == "additionalProperties" || k == "items" || k == "not" || k == "propertyNames") check_keywords(v, where + "/" + k);
      if (k == "anyOf" || k == "oneOf")
        for (std::size_t i = 0; i < v.size(); ++i) check_keywords(v[i], where + "/" + k + "/" + std::to_string(i));
      if (k == "$ref" && (!v.is_string() || v.get<std::string>().rfind("#/$defs/", 0) != 0))
        throw std::runtime_error(where + ": only #/$defs/ references are supported");
    }
  }

  static std::size_t code_points(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }

  static bool has_type(const json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer") return v.is_number_integer();
    throw std::runtime_error("unknown type " + t);
  }

  const std::regex& regex_for(const std::string& pattern) const {
    auto it = regexes_.find(pattern);
    if (it == regexes_.end()) it = regexes_.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first;
    return it->second;
  }

  bool valid(const json& s, const json& v, const std::string& path, std::vector<std::string>* errors) const {
    if (s.is_boolean()) {
      if (!s.get<bool>() && errors) errors->push_back(path + ": not allowed");
      return s.get<bool>();
    }
    bool ok = true;
    auto fail = [&](const std::string& p, const std::string& why) {
      ok = false;
      if (errors) errors->push_back((p.empty() ? "/" : p) + ": " + why);
    };
    if (s.contains("$ref")) {
      auto name = s["$ref"].get<std::string>().substr(8);
      if (!valid(root_.at("$defs").at(name), v, path, errors)) ok = false;
    }
    if (s.contains("type")) {
      bool any = false;
      if (s["type"].is_array())
        for (auto& t : s["type"]) any = any || has_type(v, t.get<std::string>());
      else any = has_type(v, s["type"].get<std::string>());
      if (!any) fail(path, "expected type " + s["type"].dump() + ", got " + v.type_name());
    }
    if (s.contains("enum")) {
      bool found = false;
      for (auto& e : s["enum"]) found = found || e == v;
      if (!found) fail(path, v.dump() + " is not one of " + s["enum"].dump());
    }
    if (s.contains("not") && valid(s["not"], v, path, nullptr)) fail(path, "matches a schema it must not match");
    if (s.contains("anyOf")) {
      bool any = false;
      for (auto& sub : s["anyOf"]) any = any || valid(sub, v, path, nullptr);
      if (!any) fail(path, "matches none of anyOf");
    }
    if (s.contains("oneOf")) {
      int n = 0;
      for (auto& sub : s["oneOf"]) n += valid(sub, v, path, nullptr);
      if (n != 1) fail(path, "matches " + std::to_string(n) + " of oneOf (needs exactly 1)");
    }
    if (v.is_object()) {
      if (s.contains("required"))
        for (auto& r : s["required"])
          if (!v.contains(r.get<std::string>())) fail(path + "/" + r.get<std::string>(), "missing");
      for (auto& [k, child] : v.items()) {
        auto p = path + "/" + k;
        if (s.contains("propertyNames") && !valid(s["propertyNames"], json(k), p, nullptr)) fail(p, "name not allowed");
        if (s.contains("properties") && s["properties"].contains(k)) {
          if (!valid(s["properties"][k], child, p, errors)) ok = false;
        } else if (s.contains("additionalProperties")) {
          if (s["additionalProperties"].is_boolean() && !s["additionalProperties"].get<bool>()) fail(p, "unknown key");
          else if (!valid(s["additionalProperties"], child, p, errors)) ok = false;
        }
      }
    }
    if (v.is_array()) {
      if (s.contains("minItems") && v.size() < s["minItems"].get<std::size_t>()) fail(path, "too few items");
      if (s.contains("items"))
        for (std::size_t i = 0; i < v.size(); ++i)
          if (!valid(s["items"], v[i], path + "/" + std::to_string(i), errors)) ok = false;
    }
    if (v.is_string()) {
      auto text = v.get<std::string>();
      if (s.contains("minLength") && code_points(text) < s["minLength"].get<std::size_t>()) fail(path, "too short");
      if (s.contains("maxLength") && code_points(text) > s["maxLength"].get<std::size_t>()) fail(path, "too long");
      if (s.contains("pattern") && !std::regex_search(text, regex_for(s["pattern"].get<std::string>())))
        fail(path, "\"" + text + "\" does not match " + s["pattern"].get<std::string>());
    }
    if (v.is_number()) {
      if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>()) fail(path, "below the minimum");
      if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>()) fail(path, "above the maximum");
    }
    return ok;
  }

  json root_;
  mutable std::map<std::string, std::regex> regexes_;
};

fs::path source_dir() { return HOPGATE_SOURCE_DIR; }

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return json::parse(in, nullptr, true, /*ignore_comments=*/true);
}

const SchemaValidator& schema() {
  static SchemaValidator v(read_json(source_dir() / "config/hopgate.schema.json"));
  return v;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += "  " + s + "\n";
  return out;
}

std::string loader_errors(const json& doc) {
  std::string out;
  for (auto& e : config::load_config(doc).errors) out += "  " + e.to_string() + "\n";
  return out;
}

/// Every shipped config: config/*.json (but the schema) and config/examples/*.json.
std::vector<fs::path> shipped_configs() {
  std::vector<fs::path> out;
  for (auto dir : {source_dir() / "config", source_dir() / "config/examples"})
    for (auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() == ".json" && e.path().filename() != "hopgate.schema.json")
        out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// Runs `hopgate --check --config FILE` with no HOPGATE_* variables; returns {exit code, output}.
std::pair<int, std::string> check_with_binary(const fs::path& file) {
  SpawnOptions o;
  for (auto n : {"HOPGATE_CONFIG", "HOPGATE_UPSTREAM", "HOPGATE_HTTP", "HOPGATE_SOCKS", "HOPGATE_ADMIN",
                 "HOPGATE_ADMIN_TOKEN", "HOPGATE_LOG_LEVEL", "HOPGATE_LOG_FORMAT"})
    o.unset_env.emplace_back(n);
  ChildProcess p({hopgate_binary(), "--check", "--config", file.string()}, o);
  auto st = p.wait(20s);
  if (!st) p.stop(SIGKILL);
  return {st && st->exited() ? st->exit_code() : -1, p.output()};
}

/// Uses every key the schema knows, each in a form the loader accepts.
json maximal_config() {
  return json::parse(R"({
    "$schema": "./hopgate.schema.json",
    "listeners": {
      "http":  { "listen": ["127.0.0.1:0", "[::1]:0"], "auth": "password", "protocols": ["http", "socks"],
                 "allow": ["10.0.0.0/8", "127.0.0.1"], "deny": "10.1.0.0/16", "open_proxy": false },
      "socks": { "listen": "127.0.0.1:0", "auth": "optional", "protocols": "socks", "allow": "127.0.0.0/8",
                 "deny": [], "open_proxy": true },
      "admin": { "listen": "localhost:0", "token": "t", "allow": ["127.0.0.0/8"], "deny": ["::1/128"] }
    },
    "users": [ { "name": "alice", "password": "pw" }, { "name": "bob", "password": "" } ],
    "upstreams": {
      "a": "socks4://127.0.0.1:1080",
      "b": "socks4a://user@h.example:1080",
      "c": "socks5://u:p%40ss@[::1]:1080/",
      "d": "http://proxy.example:3128",
      "e": { "url": "socks5h://127.0.0.1:9050", "auth": "client", "connect_timeout": 2.5 },
      "f": { "url": "http://x.example:8080", "auth": "url" },
      "g": { "group": ["a", "d"], "strategy": "round-robin", "hash_key": "client", "max_fails": 3,
             "fail_window": 10, "probe": "example.com:80", "interval": 5 },
      "h": { "group": "e" }
    },
    "routes": [
      { "name": "r", "match": { "domain": ["*.onion", ".example.org", "exact.example"], "cidr": "10.0.0.0/8",
          "port": [80, "443", "8000-8999"], "frontend": ["http"], "client": ["127.0.0.0/8"], "user": "alice" },
        "via": ["e", "d"], "resolve": true, "remote_dns": "required", "allow_ports": 443 },
      { "match": { "port": "22", "frontend": "socks", "user": ["alice", "bob"] }, "via": "block" },
      { "match": {}, "via": "direct", "remote_dns": "any", "allow_ports": ["1-65535"] }
    ],
    "default": { "via": "g" },
    "timeouts": { "handshake": 1, "connect": 2, "idle": 3, "shutdown_grace": 4, "bind": 5, "http_request": 6,
                  "http_keepalive": 0.5 },
    "http": { "via": false, "x_forwarded_for": true, "max_header_bytes": 1024,
              "pool": { "max_idle_per_origin": 0, "idle_timeout": 1.5 } },
    "limits": { "max_connections": 100, "max_connections_per_client": 10 },
    "udp": { "port_range": "40000-40100", "max_associations": 100, "max_associations_per_client": 4,
             "max_datagram": 1400, "idle_timeout": 60 },
    "dns": { "servers": ["1.1.1.1", "9.9.9.9:5353", "::1", "[::1]:53"], "cache_size": 10, "cache_max_ttl": 60,
             "max_concurrent_lookups": 64 },
    "log": { "level": "warn", "format": "json" },
    "workers": 2,
    "deny_private_targets": true
  })");
}

TEST(SchemaConfig, SchemaUsesOnlyKeywordsTheValidatorChecks) {
  EXPECT_NO_THROW(schema());
  auto raw = read_json(source_dir() / "config/hopgate.schema.json");
  EXPECT_EQ(raw["$schema"], "https://json-schema.org/draft/2020-12/schema");
  EXPECT_THROW(SchemaValidator(json::parse(R"({"type": "object", "dependentRequired": {}})")), std::runtime_error);
}

TEST(SchemaConfig, ValidatorSelfCheck) {
  SchemaValidator v(json::parse(R"({
    "type": "object", "additionalProperties": false, "required": ["a"],
    "properties": {
      "a": { "anyOf": [ { "type": "integer", "minimum": 1, "maximum": 3 }, { "type": "string", "pattern": "^x+$" } ] },
      "b": { "type": "array", "minItems": 1, "items": { "enum": ["p", "q"] } },
      "c": { "oneOf": [ { "type": "number" }, { "type": "integer" } ] },
      "d": { "$ref": "#/$defs/short" },
      "e": { "type": "object", "propertyNames": { "not": { "enum": ["bad"] } }, "additionalProperties": { "type": "boolean" } }
    },
    "$defs": { "short": { "type": "string", "minLength": 1, "maxLength": 2 } }
  })"));
  EXPECT_TRUE(v.validate(json::parse(R"({"a": 2, "b": ["p"], "d": "ab", "e": {"ok": true}})")).empty());
  EXPECT_TRUE(v.validate(json::parse(R"({"a": "xxx"})")).empty());
  for (auto bad : {R"({})", R"({"a": 4})", R"({"a": "y"})", R"({"a": 1, "z": 1})", R"({"a": 1, "b": []})",
                   R"({"a": 1, "b": ["r"]})", R"({"a": 1, "c": 1})", R"({"a": 1, "d": ""})", R"({"a": 1, "d": "abc"})",
                   R"({"a": 1, "e": {"bad": true}})", R"({"a": 1, "e": {"x": 1}})", R"([])", R"({"a": 1.5})"})
    EXPECT_FALSE(v.validate(json::parse(bad)).empty()) << bad;
  EXPECT_TRUE(v.validate(json::parse(R"({"a": 1, "c": 1.5})")).empty());
}

TEST(SchemaConfig, EveryShippedConfigValidatesAndPassesCheck) {
  auto files = shipped_configs();
  std::set<std::string> names;
  for (auto& f : files) names.insert(fs::relative(f, source_dir()).string());
  for (auto expected : {"config/hopgate.json", "config/examples/tor-bridge.json", "config/examples/policy-routing.json",
                        "config/examples/sidecar.json"})
    EXPECT_TRUE(names.count(expected)) << expected << " is missing";
  for (auto& f : files) {
    SCOPED_TRACE(f.string());
    auto doc = read_json(f);
    auto errors = schema().validate(doc);
    EXPECT_TRUE(errors.empty()) << "schema:\n" << joined(errors);
    EXPECT_EQ(loader_errors(doc), "");
    auto [code, out] = check_with_binary(f);
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find(" is valid"), std::string::npos) << out;
  }
}

TEST(SchemaConfig, ExamplesDoWhatTheirNamesSay) {
  auto tor = *config::load_config(read_json(source_dir() / "config/examples/tor-bridge.json")).config;
  auto* up = tor.find_upstream("tor");
  ASSERT_NE(up, nullptr);
  auto& hop = std::get<config::Hop>(up->kind);
  EXPECT_EQ(hop.scheme, config::Hop::Scheme::socks5h) << "names resolved by Tor, never locally";
  EXPECT_EQ(hop.host, "127.0.0.1");
  EXPECT_EQ(hop.port, 9050);
  EXPECT_TRUE(hop.pass_client_credentials) << "stream isolation per user";
  bool onion = false;
  for (auto& r : tor.routes) {
    for (auto& d : r.match.domain)
      if (d == "*.onion") {
        onion = true;
        EXPECT_EQ(r.remote_dns, config::RemoteDns::required);
        EXPECT_EQ(r.via.chain, std::vector<std::string>{"tor"});
      }
    // No rule sends a domain name direct (that would resolve it locally).
    if (r.via.kind == config::Via::Kind::direct) {
      EXPECT_TRUE(r.match.domain.empty()) << r.name;
      EXPECT_FALSE(r.resolve) << r.name;
    }
  }
  EXPECT_TRUE(onion);
  ASSERT_TRUE(tor.listeners.http());
  EXPECT_TRUE(tor.listeners.http()->listen.at(0).address().is_loopback());

  auto policy = *config::load_config(read_json(source_dir() / "config/examples/policy-routing.json")).config;
  auto* group = policy.find_upstream(policy.default_via.chain.at(0));
  ASSERT_NE(group, nullptr);
  auto& g = std::get<config::Group>(group->kind);
  EXPECT_EQ(g.strategy, config::Group::Strategy::failover);
  ASSERT_EQ(g.members.size(), 2u);
  for (auto& m : g.members) {
    auto s = std::get<config::Hop>(policy.find_upstream(m)->kind).scheme;
    EXPECT_TRUE(s == config::Hop::Scheme::socks5 || s == config::Hop::Scheme::socks5h) << m;
  }
  std::set<std::string> kinds;
  for (auto& r : policy.routes) {
    if (r.via.kind == config::Via::Kind::block) kinds.insert("block");
    if (r.via.kind == config::Via::Kind::direct && !r.match.cidr.empty()) kinds.insert("private-direct");
    if (r.via.kind == config::Via::Kind::chain &&
        std::get<config::Hop>(policy.find_upstream(r.via.chain[0])->kind).scheme == config::Hop::Scheme::http &&
        !r.match.domain.empty())
      kinds.insert("corp-http");
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"block", "private-direct", "corp-http"}));

  auto sidecar = *config::load_config(read_json(source_dir() / "config/examples/sidecar.json")).config;
  ASSERT_TRUE(sidecar.listeners.http() && sidecar.listeners.socks() && sidecar.listeners.admin());
  EXPECT_TRUE(sidecar.listeners.http()->listen.at(0).address().is_unspecified()) << "reachable from other containers";
  EXPECT_FALSE(sidecar.listeners.http()->allow.empty()) << "an allow list, not an open proxy";
  EXPECT_FALSE(sidecar.listeners.socks()->allow.empty());
  EXPECT_FALSE(sidecar.listeners.http()->open_proxy);
}

TEST(SchemaConfig, MaximalConfigAcceptedByBoth) {
  auto doc = maximal_config();
  EXPECT_TRUE(schema().validate(doc).empty()) << joined(schema().validate(doc));
  EXPECT_EQ(loader_errors(doc), "");
  // Other accepted spellings.
  for (auto variant : {R"({"udp": {"port_range": null}})", R"({"udp": {"port_range": 40000}})", R"({"http": {"via": "1.1 corp"}})"}) {
    auto v = doc;
    v.merge_patch(json::parse(variant));
    EXPECT_TRUE(schema().validate(v).empty()) << variant << "\n" << joined(schema().validate(v));
    EXPECT_EQ(loader_errors(v), "") << variant;
  }
}

TEST(SchemaConfig, EveryEnumValueAcceptedByBoth) {
  auto base = json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}},
                              "users": [{"name": "u", "password": "p"}],
                              "upstreams": {"a": "socks5://127.0.0.1:1"}})");
  std::vector<std::pair<json::json_pointer, std::vector<json>>> cases{
      {json::json_pointer("/listeners/socks/auth"), {"none", "password", "optional"}},
      {json::json_pointer("/log/level"), {"trace", "debug", "info", "warn", "error", "critical", "off"}},
      {json::json_pointer("/log/format"), {"text", "json"}},
      {json::json_pointer("/upstreams/g/strategy"), {"failover", "round-robin", "least-connections", "random", "hash"}},
      {json::json_pointer("/upstreams/g/hash_key"), {"target", "client", "user"}},
  };
  for (auto& [ptr, values] : cases)
    for (auto& v : values) {
      auto doc = base;
      if (ptr.to_string().rfind("/upstreams/g", 0) == 0) doc["upstreams"]["g"] = {{"group", {"a"}}};
      doc[ptr] = v;
      SCOPED_TRACE(doc.dump());
      EXPECT_TRUE(schema().validate(doc).empty()) << joined(schema().validate(doc));
      EXPECT_EQ(loader_errors(doc), "");
    }
}

/// Every object in `doc`, as JSON pointers.
void objects_in(const json& doc, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  if (doc.is_object()) {
    out.push_back(at);
    for (auto& [k, v] : doc.items()) objects_in(v, at / k, out);
  } else if (doc.is_array()) {
    for (std::size_t i = 0; i < doc.size(); ++i) objects_in(doc[i], at / i, out);
  }
}

TEST(SchemaConfig, UnknownKeyAnywhereRejectedByBoth) {
  auto doc = maximal_config();
  std::vector<json::json_pointer> objects;
  objects_in(doc, json::json_pointer(), objects);
  EXPECT_GE(objects.size(), 20u);
  for (auto& p : objects) {
    auto broken = doc;
    broken[p]["no_such_key"] = 1;
    SCOPED_TRACE(p.to_string());
    EXPECT_FALSE(schema().validate(broken).empty()) << "the schema accepts an unknown key";
    EXPECT_NE(loader_errors(broken), "") << "the loader accepts an unknown key";
  }
}

/// Every property name the schema defines, anywhere.
void schema_property_names(const json& s, std::set<std::string>& out) {
  if (s.is_object()) {
    if (s.contains("properties") && s["properties"].is_object())
      for (auto& [k, v] : s["properties"].items()) out.insert(k);
    for (auto& [k, v] : s.items()) schema_property_names(v, out);
  } else if (s.is_array()) {
    for (auto& v : s) schema_property_names(v, out);
  }
}

TEST(SchemaConfig, EveryKeyTheLoaderKnowsIsInTheSchema) {
  // The loader lists the keys of each object it reads: Reader::object(j, path, {"a", "b"}) and the
  // listener key lists. A key added there and not to the schema would make editors flag a valid file.
  // The loader is one file per section (src/config/load_*.cpp): read them all.
  std::string loader;
  for (auto& f : std::filesystem::directory_iterator(source_dir() / "src/config"))
    if (f.path().extension() == ".cpp") loader += read_text_file(f.path());
  ASSERT_FALSE(loader.empty());
  std::set<std::string> keys;
  std::regex list_re(R"((?:r\.object\([^;{]*|keys_front|keys_admin)\{([^}]*)\})");
  std::regex key_re(R"re("([^"]+)")re");
  for (auto it = std::sregex_iterator(loader.begin(), loader.end(), list_re); it != std::sregex_iterator(); ++it) {
    std::string inside = (*it)[1];
    for (auto k = std::sregex_iterator(inside.begin(), inside.end(), key_re); k != std::sregex_iterator(); ++k) keys.insert((*k)[1]);
  }
  EXPECT_GE(keys.size(), 50u) << "the loader's key lists were not found; update this test's pattern";
  std::set<std::string> names;
  schema_property_names(read_json(source_dir() / "config/hopgate.schema.json"), names);
  for (auto& k : keys) EXPECT_TRUE(names.count(k)) << "the loader reads \"" << k << "\" but the schema does not define it";
}

TEST(SchemaConfig, BrokenConfigsRejectedByBoth) {
  const std::string l = R"("listeners": {"socks": {"listen": "127.0.0.1:0"}})";
  auto with = [&](const std::string& rest) { return "{" + l + ", " + rest + "}"; };
  auto listener = [&](const std::string& kind, const std::string& body) {
    return R"({"listeners": {")" + kind + R"(": )" + body + (kind == "socks" ? "" : R"(, "socks": {"listen": "127.0.0.1:0"})") + "}}";
  };
  auto upstream = [&](const std::string& v) { return with(R"("upstreams": {"x": )" + v + "}"); };
  auto route = [&](const std::string& r) { return with(R"("upstreams": {"u": "socks5://127.0.0.1:1"}, "routes": [)" + r + "]"); };
  std::vector<std::string> broken{
      R"({})",
      R"([])",
      R"({"listeners": {}})",
      R"({"listeners": {"admin": {"listen": "127.0.0.1:0"}}})",
      R"({"listeners": []})",
      with(R"("colour": "red")"),
      listener("http", R"({"auth": "none"})"),
      listener("http", R"({"listen": "localhost"})"),
      listener("http", R"({"listen": "example.com:80"})"),
      listener("http", R"({"listen": "127.0.0.1:65536"})"),
      listener("http", R"({"listen": "::1:80"})"),
      listener("http", R"({"listen": 8080})"),
      listener("http", R"({"listen": [8080]})"),
      listener("http", R"({"listen": "127.0.0.1:0", "auth": "optional"})"),
      listener("socks", R"({"listen": "127.0.0.1:0", "auth": "basic"})"),
      listener("http", R"({"listen": "127.0.0.1:0", "protocols": []})"),
      listener("http", R"({"listen": "127.0.0.1:0", "protocols": ["ftp"]})"),
      listener("http", R"({"listen": "127.0.0.1:0", "allow": ["10.0.0.0/33"]})"),
      listener("http", R"({"listen": "127.0.0.1:0", "deny": "not-an-ip"})"),
      listener("http", R"({"listen": "127.0.0.1:0", "open_proxy": "yes"})"),
      listener("http", R"({"listen": "127.0.0.1:0", "token": "t"})"),
      listener("admin", R"({"listen": "127.0.0.1:0", "auth": "none"})"),
      listener("admin", R"({"listen": "127.0.0.1:0", "open_proxy": true})"),
      listener("admin", R"({"listen": "127.0.0.1:0", "token": 42})"),
      with(R"("users": {"name": "a"})"),
      with(R"("users": [{"name": "a"}])"),
      with(R"("users": [{"password": "p"}])"),
      with(R"("users": [{"name": "", "password": "p"}])"),
      with(R"("users": [{"name": "a", "password": "p", "role": "admin"}])"),
      with(R"("users": [{"name": ")" + std::string(256, 'n') + R"(", "password": "p"}])"),
      with(R"("users": [{"name": "a", "password": ")" + std::string(256, 'p') + R"("}])"),
      with(R"("users": ["alice"])"),
      with(R"("upstreams": [])"),
      with(R"("upstreams": {"direct": "socks5://127.0.0.1:1"})"),
      with(R"("upstreams": {"block": "socks5://127.0.0.1:1"})"),
      with(R"("upstreams": {"": "socks5://127.0.0.1:1"})"),
      upstream(R"("https://127.0.0.1:1")"),
      upstream(R"("socks5h://127.0.0.1")"),
      upstream(R"("socks5h://127.0.0.1:0")"),
      upstream(R"("socks5h://127.0.0.1:70000")"),
      upstream(R"("socks5h://127.0.0.1:1/path")"),
      upstream(R"("socks5h://127.0.0.1:1?q")"),
      upstream(R"("127.0.0.1:1080")"),
      upstream(R"("socks5h://::1:1080")"),
      upstream(R"(42)"),
      upstream(R"({"auth": "client"})"),
      upstream(R"({"url": "socks5h://127.0.0.1:1", "user": "x"})"),
      upstream(R"({"url": "socks5h://127.0.0.1:1", "auth": "token"})"),
      upstream(R"({"url": "socks5h://127.0.0.1:1", "connect_timeout": -1})"),
      upstream(R"({"url": "socks5h://127.0.0.1:1", "connect_timeout": "5s"})"),
      upstream(R"({"url": 5})"),
      upstream(R"({"group": []})"),
      upstream(R"({"group": ["x"], "url": "socks5h://127.0.0.1:1"})"),
      upstream(R"({"group": ["x"], "strategy": "fastest"})"),
      upstream(R"({"group": ["x"], "hash_key": "ip"})"),
      upstream(R"({"group": ["x"], "max_fails": 1001})"),
      upstream(R"({"group": ["x"], "max_fails": 1.5})"),
      upstream(R"({"group": ["x"], "max_fails": -1})"),
      upstream(R"({"group": ["x"], "fail_window": -1})"),
      upstream(R"({"group": ["x"], "probe": 80})"),
      upstream(R"({"group": ["x"], "interval": "often"})"),
      with(R"("routes": {})"),
      route(R"({"match": {"domain": "a.example"}})"),
      route(R"({"via": "direct", "action": "x"})"),
      route(R"({"via": ""})"),
      route(R"({"via": []})"),
      route(R"({"via": ["direct"]})"),
      route(R"({"via": ["u", "block"]})"),
      route(R"({"via": 5})"),
      route(R"({"via": {"name": "u"}})"),
      route(R"("direct")"),
      route(R"({"via": "direct", "name": 3})"),
      route(R"({"via": "direct", "match": {"host": "a.example"}})"),
      route(R"({"via": "direct", "match": []})"),
      route(R"({"via": "direct", "match": {"domain": "*"}})"),
      route(R"({"via": "direct", "match": {"domain": ""}})"),
      route(R"({"via": "direct", "match": {"domain": ["."]}})"),
      route(R"({"via": "direct", "match": {"domain": [1]}})"),
      route(R"({"via": "direct", "match": {"cidr": "10.0.0.0/40"}})"),
      route(R"({"via": "direct", "match": {"cidr": "example.com"}})"),
      route(R"({"via": "direct", "match": {"port": 0}})"),
      route(R"({"via": "direct", "match": {"port": 70000}})"),
      route(R"({"via": "direct", "match": {"port": "0"}})"),
      route(R"({"via": "direct", "match": {"port": "x"}})"),
      route(R"({"via": "direct", "match": {"port": true}})"),
      route(R"({"via": "direct", "match": {"port": ["80", null]}})"),
      route(R"({"via": "direct", "match": {"client": "nowhere"}})"),
      route(R"({"via": "direct", "match": {"user": 7}})"),
      route(R"({"via": "direct", "remote_dns": "maybe"})"),
      route(R"({"via": "direct", "remote_dns": true})"),
      route(R"({"via": "direct", "resolve": "yes"})"),
      route(R"({"via": "direct", "allow_ports": "0"})"),
      route(R"({"via": "direct", "allow_ports": "1-70000"})"),
      with(R"("default": "direct")"),
      with(R"("default": {"via": []})"),
      with(R"("default": {"via": "direct", "log": true})"),
      with(R"("timeouts": {"forever": 1})"),
      with(R"("timeouts": {"idle": -5})"),
      with(R"("timeouts": {"idle": "5"})"),
      with(R"("timeouts": 5)"),
      with(R"("http": {"via": 1})"),
      with(R"("http": {"max_header_bytes": 100})"),
      with(R"("http": {"max_header_bytes": 16777217})"),
      with(R"("http": {"max_header_bytes": 2048.5})"),
      with(R"("http": {"x_forwarded_for": "yes"})"),
      with(R"("http": {"pool": {"size": 1}})"),
      with(R"("http": {"pool": {"max_idle_per_origin": 2000}})"),
      with(R"("http": {"pool": {"idle_timeout": -1}})"),
      with(R"("http": {"proxy": true})"),
      with(R"("limits": {"max_connections": -1})"),
      with(R"("limits": {"max_connections": 10000001})"),
      with(R"("limits": {"max_bytes": 1})"),
      with(R"("udp": {"port_range": "70000-70001"})"),
      with(R"("udp": {"port_range": "0"})"),
      with(R"("udp": {"port_range": true})"),
      with(R"("udp": {"max_datagram": 100})"),
      with(R"("udp": {"max_datagram": 65508})"),
      with(R"("udp": {"max_associations": -1})"),
      with(R"("udp": {"idle_timeout": -1})"),
      with(R"("udp": {"ports": 1})"),
      with(R"("udp": [])"),
      with(R"("dns": {"servers": "dns.google"})"),
      with(R"("dns": {"servers": [53]})"),
      with(R"("dns": {"cache_size": "big"})"),
      with(R"("dns": {"cache_max_ttl": -1})"),
      with(R"("dns": {"doh": "https://x"})"),
      with(R"("dns": {"max_concurrent_lookups": 1000001})"),
      with(R"("dns": {"max_concurrent_lookups": "many"})"),
      with(R"("deny_private_targets": "yes")"),
      with(R"("log": {"level": "verbose"})"),
      with(R"("log": {"format": "xml"})"),
      with(R"("log": {"file": "/var/log/hopgate.log"})"),
      with(R"("log": "info")"),
      with(R"("workers": 300)"),
      with(R"("workers": -1)"),
      with(R"("workers": "4")"),
      with(R"("workers": 1.5)"),
  };
  for (auto& text : broken) {
    json doc;
    ASSERT_NO_THROW(doc = json::parse(text)) << text;
    SCOPED_TRACE(text);
    EXPECT_FALSE(schema().validate(doc).empty()) << "the schema accepts it";
    EXPECT_NE(loader_errors(doc), "") << "the loader accepts it";
  }
}

TEST(SchemaConfig, NamedListenersAndFrontendNamesAgree) {
  // Listeners of any name with a kind; a route's frontend names a protocol or a listener. Whether
  // that listener exists is the loader's to check (as upstream and user names are): the schema
  // cannot know the names.
  auto doc = json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"},
                                           "tls-http": {"kind": "http", "listen": "127.0.0.1:0"},
                                           "socks-lan": {"kind": "socks", "listen": "127.0.0.1:0"}},
                             "routes": [{"via": "block", "match": {"frontend": ["tls-http", "socks"]}}]})");
  EXPECT_EQ(schema().validate(doc), std::vector<std::string>{});
  EXPECT_EQ(loader_errors(doc), "");
  auto unknown = json::parse(R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}},
                                 "routes": [{"via": "direct", "match": {"frontend": "udp"}}]})");
  EXPECT_NE(loader_errors(unknown).find("/routes/0/match/frontend: unknown front end \"udp\""), std::string::npos)
      << loader_errors(unknown);
  for (auto* text : {R"({"listeners": {"web": {"listen": "127.0.0.1:0"}}})",
                     R"({"listeners": {"web": {"kind": "udp", "listen": "127.0.0.1:0"}}})",
                     R"({"listeners": {"socks": {"kind": "http", "listen": "127.0.0.1:0"}}})"}) {
    SCOPED_TRACE(text);
    auto bad = json::parse(text);
    EXPECT_FALSE(schema().validate(bad).empty()) << "the schema accepts it";
    EXPECT_NE(loader_errors(bad), "") << "the loader accepts it";
  }
}

} // namespace
} // namespace hopgate::test
