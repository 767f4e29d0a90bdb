// From settings to a config document: the file choice, each override, --route, and precedence
// flags > environment > file end to end through the loader.
#include "hopgate/cli/overrides.hpp"

#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>

namespace hopgate::cli {
namespace {

using nlohmann::json;

Settings flags(std::vector<std::string> args) {
  auto r = parse_args(args);
  EXPECT_TRUE(r.ok()) << r.error;
  return r.command.settings;
}

Settings env(std::map<std::string, std::string> vars) {
  return settings_from_env([&](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

json file_doc() {
  return json::parse(R"({
    "listeners": {
      "http":  { "listen": ["127.0.0.1:8118"], "allow": ["10.0.0.0/8"] },
      "socks": { "listen": "127.0.0.1:1080", "auth": "none" },
      "admin": { "listen": ["127.0.0.1:9090"] }
    },
    "upstreams": { "office": "http://proxy.corp.example:3128" },
    "routes": [ { "name": "corp", "match": { "domain": ["*.corp.example"] }, "via": "office" } ],
    "default": { "via": "direct" },
    "log": { "level": "warn" }
  })");
}

/// apply_settings then the loader; fails the test on any error.
json applied(json doc, const Settings& s) {
  auto o = apply_settings(std::move(doc), s);
  for (auto& e : o.errors) ADD_FAILURE() << e.to_string();
  auto r = config::load_config(o.doc);
  for (auto& e : r.errors) ADD_FAILURE() << e.to_string() << "\n" << o.doc.dump(2);
  return o.doc;
}

std::vector<std::string> errors_of(json doc, const Settings& s) {
  std::vector<std::string> out;
  for (auto& e : apply_settings(std::move(doc), s).errors) out.push_back(e.to_string());
  return out;
}

TEST(CliSource, ExplicitFileWins) {
  auto none = [](const std::string&) { return false; };
  auto all = [](const std::string&) { return true; };
  auto s = merge_settings(env({{"HOPGATE_CONFIG", "/env.json"}}), flags({"--config", "/flag.json"}));
  EXPECT_EQ(choose_config_source(s, none).path, "/flag.json");
  EXPECT_EQ(choose_config_source(s, none).why, "--config");
  auto e = env({{"HOPGATE_CONFIG", "/env.json"}, {"HOPGATE_UPSTREAM", "socks5h://127.0.0.1:9050"}});
  EXPECT_EQ(choose_config_source(e, all).path, "/env.json");
  EXPECT_EQ(choose_config_source(e, all).why, "HOPGATE_CONFIG");
}

TEST(CliSource, QuickModeReadsNoDefaultFile) {
  auto all = [](const std::string&) { return true; };
  auto src = choose_config_source(flags({"--upstream", "socks5h://127.0.0.1:9050"}), all);
  EXPECT_EQ(src.path, "");
  EXPECT_EQ(src.why, "quick mode");
  EXPECT_EQ(choose_config_source(env({{"HOPGATE_UPSTREAM", "socks5h://127.0.0.1:9050"}}), all).path, "");
  EXPECT_EQ(choose_config_source(flags({"--route", "a.example=block"}), all).path, "");
}

TEST(CliSource, DefaultPathsInOrderThenBuiltIn) {
  auto only_etc = [](const std::string& p) { return p == "/etc/hopgate/hopgate.json"; };
  auto all = [](const std::string&) { return true; };
  auto none = [](const std::string&) { return false; };
  EXPECT_EQ(choose_config_source(flags({"--http", "127.0.0.1:1"}), all).path, "config/hopgate.json");
  EXPECT_EQ(choose_config_source(Settings{}, only_etc).path, "/etc/hopgate/hopgate.json");
  auto builtin = choose_config_source(Settings{}, none);
  EXPECT_EQ(builtin.path, "");
  EXPECT_EQ(builtin.why, "built-in defaults");
}

TEST(CliBase, BuiltInBaseIsValidAndOnLoopback) {
  auto r = config::load_config(builtin_base());
  ASSERT_TRUE(r.ok());
  auto& l = r.config->listeners;
  ASSERT_TRUE(l.http() && l.socks() && l.admin());
  EXPECT_EQ(l.http()->listen.at(0), boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 8118));
  EXPECT_EQ(l.socks()->listen.at(0), boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 1080));
  EXPECT_EQ(l.admin()->listen.at(0), boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 9090));
  EXPECT_EQ(r.config->default_via.kind, config::Via::Kind::direct);
}

TEST(CliOverlay, QuickModeUpstreamIsTheDefault) {
  auto doc = applied(builtin_base(), flags({"--upstream", "socks5h://127.0.0.1:9050"}));
  EXPECT_EQ(doc["upstreams"]["upstream"], "socks5h://127.0.0.1:9050");
  EXPECT_EQ(doc["default"]["via"], "upstream");
  auto cfg = *config::load_config(doc).config;
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  auto& hop = std::get<config::Hop>(cfg.upstreams[0].kind);
  EXPECT_EQ(hop.scheme, config::Hop::Scheme::socks5h);
  EXPECT_EQ(hop.port, 9050);
  EXPECT_EQ(cfg.default_via.chain, std::vector<std::string>{"upstream"});
}

TEST(CliOverlay, UpstreamOverFileKeepsFileRoutes) {
  auto doc = applied(file_doc(), flags({"--upstream", "socks5://u:p@10.1.1.1:1080"}));
  EXPECT_EQ(doc["upstreams"]["office"], "http://proxy.corp.example:3128");
  EXPECT_EQ(doc["upstreams"]["upstream"], "socks5://u:p@10.1.1.1:1080");
  EXPECT_EQ(doc["default"]["via"], "upstream");
  EXPECT_EQ(doc["routes"].size(), 1u);
}

TEST(CliOverlay, ListenAddressesReplaceOnlyListen) {
  auto doc = applied(file_doc(), flags({"--http", "127.0.0.1:3128,[::1]:3128", "--socks", "127.0.0.1:0", "--admin", "[::1]:9999"}));
  EXPECT_EQ(doc["listeners"]["http"]["listen"], json({"127.0.0.1:3128", "[::1]:3128"}));
  EXPECT_EQ(doc["listeners"]["http"]["allow"], json({"10.0.0.0/8"})) << "other listener keys stay";
  EXPECT_EQ(doc["listeners"]["socks"]["listen"], json({"127.0.0.1:0"}));
  EXPECT_EQ(doc["listeners"]["socks"]["auth"], "none");
  EXPECT_EQ(doc["listeners"]["admin"]["listen"], json({"[::1]:9999"}));
}

TEST(CliOverlay, ListenerCreatedWhenTheFileHasNone) {
  json doc = {{"listeners", {{"socks", {{"listen", "127.0.0.1:1080"}}}}}};
  auto out = applied(doc, flags({"--http", "127.0.0.1:8118", "--admin", "127.0.0.1:9090"}));
  EXPECT_EQ(out["listeners"]["http"], json({{"listen", {"127.0.0.1:8118"}}}));
  EXPECT_EQ(out["listeners"]["admin"], json({{"listen", {"127.0.0.1:9090"}}}));
}

TEST(CliOverlay, OffRemovesAListener) {
  auto doc = applied(file_doc(), flags({"--socks", "off", "--admin", "off"}));
  EXPECT_FALSE(doc["listeners"].contains("socks"));
  EXPECT_FALSE(doc["listeners"].contains("admin"));
  EXPECT_TRUE(doc["listeners"].contains("http"));
}

TEST(CliOverlay, BadListenAddressNamesItsSource) {
  auto errs = errors_of(file_doc(), env({{"HOPGATE_HTTP", "example.com:80"}}));
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].rfind("HOPGATE_HTTP: ", 0), 0u) << errs[0];
  EXPECT_EQ(errors_of(file_doc(), flags({"--socks", "127.0.0.1:99999"})).size(), 1u);
  EXPECT_EQ(errors_of(file_doc(), flags({"--admin", "127.0.0.1:1,"})).size(), 1u);
}

TEST(CliOverlay, BadUpstreamNamesItsSource) {
  auto errs = errors_of(builtin_base(), env({{"HOPGATE_UPSTREAM", "https://127.0.0.1:9050"}}));
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].rfind("HOPGATE_UPSTREAM: unknown scheme", 0), 0u) << errs[0];
}

TEST(CliOverlay, AdminToken) {
  auto doc = applied(file_doc(), env({{"HOPGATE_ADMIN", "0.0.0.0:9090"}, {"HOPGATE_ADMIN_TOKEN", "s3cret"}}));
  EXPECT_EQ(doc["listeners"]["admin"]["token"], "s3cret");
  EXPECT_EQ(doc["listeners"]["admin"]["listen"], json({"0.0.0.0:9090"}));
  // Without the token the loader refuses an exposed admin API.
  auto o = apply_settings(file_doc(), env({{"HOPGATE_ADMIN", "0.0.0.0:9090"}}));
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(config::load_config(o.doc).ok());
  // A token with no admin listener is a mistake worth stopping for.
  auto errs = errors_of(file_doc(), merge_settings(env({{"HOPGATE_ADMIN_TOKEN", "t"}}), flags({"--admin", "off"})));
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].rfind("HOPGATE_ADMIN_TOKEN: ", 0), 0u);
}

TEST(CliOverlay, LogLevelAndFormat) {
  auto doc = applied(file_doc(), env({{"HOPGATE_LOG_LEVEL", "debug"}, {"HOPGATE_LOG_FORMAT", "json"}}));
  EXPECT_EQ(doc["log"], json({{"level", "debug"}, {"format", "json"}}));
  EXPECT_EQ(errors_of(file_doc(), flags({"--log-level", "loud"})).size(), 1u);
  EXPECT_EQ(errors_of(file_doc(), flags({"--log-format", "xml"})).size(), 1u);
  EXPECT_EQ(errors_of(file_doc(), env({{"HOPGATE_LOG_FORMAT", "yaml"}})).at(0).rfind("HOPGATE_LOG_FORMAT: ", 0), 0u);
}

TEST(CliPrecedence, FlagsOverEnvironmentOverFile) {
  // The file says warn; the environment says error; the flag says info.
  auto e = env({{"HOPGATE_LOG_LEVEL", "error"}, {"HOPGATE_HTTP", "127.0.0.1:1111"}, {"HOPGATE_SOCKS", "127.0.0.1:2222"}});
  auto f = flags({"--log-level", "info", "--http", "127.0.0.1:3333"});
  auto doc = applied(file_doc(), merge_settings(e, f));
  EXPECT_EQ(doc["log"]["level"], "info");                               // flag
  EXPECT_EQ(doc["listeners"]["http"]["listen"], json({"127.0.0.1:3333"})); // flag over env
  EXPECT_EQ(doc["listeners"]["socks"]["listen"], json({"127.0.0.1:2222"})); // env over file
  EXPECT_EQ(doc["listeners"]["admin"]["listen"], json({"127.0.0.1:9090"})); // file
  // Without the flag the environment wins over the file.
  EXPECT_EQ(applied(file_doc(), merge_settings(e, Settings{}))["log"]["level"], "error");
  // Without either the file's value stays.
  EXPECT_EQ(applied(file_doc(), Settings{})["log"]["level"], "warn");
  EXPECT_EQ(applied(file_doc(), Settings{}), file_doc());
}

TEST(CliPrecedence, UpstreamFlagOverEnvironment) {
  auto doc = applied(builtin_base(), merge_settings(env({{"HOPGATE_UPSTREAM", "socks5h://10.0.0.1:9050"}}),
                                                    flags({"--upstream", "http://127.0.0.1:3128"})));
  EXPECT_EQ(doc["upstreams"]["upstream"], "http://127.0.0.1:3128");
}

TEST(CliRoute, ParseMatchesAndActions) {
  std::string why;
  auto a = parse_route_flag("*.onion=upstream", why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->domains, std::vector<std::string>{"*.onion"});
  EXPECT_TRUE(a->cidrs.empty());
  EXPECT_EQ(a->action, "upstream");
  auto b = parse_route_flag("10.0.0.0/8, fd00::/8 ,192.0.2.7=direct", why);
  ASSERT_TRUE(b) << why;
  EXPECT_EQ(b->cidrs, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "192.0.2.7"}));
  EXPECT_EQ(b->action, "direct");
  auto c = parse_route_flag("*.corp.example,corp.example=http://u:p=q@proxy.corp.example:3128", why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->domains.size(), 2u);
  EXPECT_EQ(c->action, "http://u:p=q@proxy.corp.example:3128");
}

TEST(CliRoute, ParseErrors) {
  for (auto bad : {"*.onion", "=direct", "*.onion=", "a.example,,b.example=block", "10.0.0.0/33=direct",
                   "a.example,10.0.0.0/8=direct", "*=direct", "a b.example=direct"}) {
    std::string why;
    EXPECT_FALSE(parse_route_flag(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(CliRoute, RulesGoFirstInFlagOrder) {
  auto doc = applied(file_doc(), flags({"--upstream", "socks5h://127.0.0.1:9050", "--route", "*.onion=upstream",
                                        "--route", "10.0.0.0/8,192.168.0.0/16=direct", "--route", "ads.example=block",
                                        "--route", "intranet.example=office"}));
  auto& routes = doc["routes"];
  ASSERT_EQ(routes.size(), 5u);
  EXPECT_EQ(routes[0], json({{"name", "*.onion"}, {"match", {{"domain", {"*.onion"}}}}, {"via", "upstream"}}));
  EXPECT_EQ(routes[1], json({{"name", "10.0.0.0/8,192.168.0.0/16"}, {"match", {{"cidr", {"10.0.0.0/8", "192.168.0.0/16"}}}}, {"via", "direct"}}));
  EXPECT_EQ(routes[2]["via"], "block");
  EXPECT_EQ(routes[3]["via"], "office");
  EXPECT_EQ(routes[4]["name"], "corp") << "the file's rules follow";
}

TEST(CliRoute, UrlActionsBecomeUpstreams) {
  auto doc = applied(builtin_base(), flags({"--route", "*.corp.example=http://proxy.corp.example:3128", "--route",
                                            "a.example=socks5h://127.0.0.1:9050", "--route",
                                            "b.example=http://proxy.corp.example:3128"}));
  EXPECT_EQ(doc["upstreams"]["route-1"], "http://proxy.corp.example:3128");
  EXPECT_EQ(doc["upstreams"]["route-2"], "socks5h://127.0.0.1:9050");
  EXPECT_FALSE(doc["upstreams"].contains("route-3")) << "one upstream per distinct URL";
  EXPECT_EQ(doc["routes"][0]["via"], "route-1");
  EXPECT_EQ(doc["routes"][1]["via"], "route-2");
  EXPECT_EQ(doc["routes"][2]["via"], "route-1");
  EXPECT_EQ(doc["default"]["via"], "direct") << "--route alone does not change the default";
}

TEST(CliRoute, UnknownActionsAreErrors) {
  auto errs = errors_of(builtin_base(), flags({"--route", "*.onion=upstream"}));
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].rfind("--route 1: ", 0), 0u) << errs[0];
  EXPECT_EQ(errors_of(file_doc(), flags({"--route", "a.example=tor"})).size(), 1u);
  EXPECT_EQ(errors_of(file_doc(), flags({"--route", "a.example=ftp://x:21"})).size(), 1u);
  auto two = errors_of(file_doc(), flags({"--route", "a.example=office", "--route", "nope", "--route", "b.example=tor"}));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].rfind("--route 2: ", 0), 0u);
  EXPECT_EQ(two[1].rfind("--route 3: ", 0), 0u);
}

TEST(CliOverlay, NonObjectsAreLeftForTheLoader) {
  auto o = apply_settings(json::array(), flags({"--http", "127.0.0.1:1"}));
  EXPECT_FALSE(o.ok());
  auto bad = json::parse(R"({"listeners": [], "routes": {}})");
  auto o2 = apply_settings(bad, flags({"--http", "127.0.0.1:1", "--route", "a.example=block"}));
  EXPECT_TRUE(o2.ok());
  EXPECT_FALSE(config::load_config(o2.doc).ok());
}

} // namespace
} // namespace hopgate::cli

namespace hopgate::cli {
namespace {

TEST(CliPrintable, PersonOrderSameContent) {
  auto doc = apply_settings(builtin_base(), parse_args({"--upstream", "socks5h://127.0.0.1:9050", "--route",
                                                        "*.onion=upstream"}).command.settings).doc;
  doc["log"] = {{"level", "info"}};
  auto p = printable(doc);
  std::vector<std::string> keys;
  for (auto& [k, v] : p.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"listeners", "upstreams", "routes", "default", "log"}));
  std::vector<std::string> listeners;
  for (auto& [k, v] : p["listeners"].items()) listeners.push_back(k);
  EXPECT_EQ(listeners, (std::vector<std::string>{"http", "socks", "admin"}));
  std::vector<std::string> route;
  for (auto& [k, v] : p["routes"][0].items()) route.push_back(k);
  EXPECT_EQ(route, (std::vector<std::string>{"name", "match", "via"}));
  EXPECT_EQ(nlohmann::json::parse(p.dump()), doc);
}

} // namespace
} // namespace hopgate::cli
