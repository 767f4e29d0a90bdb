// Flags, environment and their precedence, as pure functions.
#include "hopgate/cli/settings.hpp"

#include <gtest/gtest.h>
#include <map>

namespace hopgate::cli {
namespace {

ParseResult parse(std::vector<std::string> args) { return parse_args(args); }

Settings env_of(std::map<std::string, std::string> vars) {
  return settings_from_env([&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

TEST(CliArgs, NoArgumentsRuns) {
  auto r = parse({});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.command.action, Action::run);
  EXPECT_TRUE(r.command.settings.sources().empty());
  EXPECT_FALSE(r.command.settings.quick());
}

TEST(CliArgs, EveryValueFlagInBothSpellings) {
  struct Case {
    std::string flag;
    std::optional<Setting> Settings::*field;
  };
  for (auto& c : std::vector<Case>{{"--config", &Settings::config},
                                   {"--upstream", &Settings::upstream},
                                   {"--http", &Settings::http},
                                   {"--socks", &Settings::socks},
                                   {"--admin", &Settings::admin},
                                   {"--log-level", &Settings::log_level},
                                   {"--log-format", &Settings::log_format}}) {
    auto a = parse({c.flag, "VALUE"});
    ASSERT_TRUE(a.ok()) << c.flag << ": " << a.error;
    ASSERT_TRUE((a.command.settings.*c.field).has_value()) << c.flag;
    EXPECT_EQ((a.command.settings.*c.field)->value, "VALUE");
    EXPECT_EQ((a.command.settings.*c.field)->source, c.flag);
    auto b = parse({c.flag + "=V2"});
    ASSERT_TRUE(b.ok()) << c.flag << ": " << b.error;
    EXPECT_EQ((b.command.settings.*c.field)->value, "V2");
    auto missing = parse({c.flag});
    EXPECT_FALSE(missing.ok()) << c.flag;
    EXPECT_NE(missing.error.find("needs a value"), std::string::npos) << missing.error;
    EXPECT_FALSE(parse({c.flag + "="}).ok()) << c.flag << " with an empty value";
  }
}

TEST(CliArgs, ShortConfigFlag) {
  auto r = parse({"-c", "x.json"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.command.settings.config->value, "x.json");
  EXPECT_EQ(r.command.settings.config->source, "--config");
}

TEST(CliArgs, LastValueWins) {
  auto r = parse({"--http", "127.0.0.1:1", "--http", "127.0.0.1:2"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.command.settings.http->value, "127.0.0.1:2");
}

TEST(CliArgs, RoutesKeepOrderAndAreNumbered) {
  auto r = parse({"--route", "*.onion=upstream", "--route=10.0.0.0/8=direct", "--upstream", "socks5h://127.0.0.1:9050"});
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.command.settings.routes.size(), 2u);
  EXPECT_EQ(r.command.settings.routes[0], (Setting{"*.onion=upstream", "--route 1"}));
  EXPECT_EQ(r.command.settings.routes[1], (Setting{"10.0.0.0/8=direct", "--route 2"}));
  EXPECT_TRUE(r.command.settings.quick());
}

TEST(CliArgs, QuickModeNeedsUpstreamOrRoute) {
  EXPECT_TRUE(parse({"--upstream", "socks5h://127.0.0.1:9050"}).command.settings.quick());
  EXPECT_TRUE(parse({"--route", "a.example=block"}).command.settings.quick());
  EXPECT_FALSE(parse({"--http", "127.0.0.1:1"}).command.settings.quick());
}

TEST(CliArgs, Actions) {
  EXPECT_EQ(parse({"--check"}).command.action, Action::check);
  EXPECT_EQ(parse({"--print-config"}).command.action, Action::print_config);
  EXPECT_EQ(parse({"--version"}).command.action, Action::version);
  EXPECT_EQ(parse({"-V"}).command.action, Action::version);
  EXPECT_EQ(parse({"--help"}).command.action, Action::help);
  EXPECT_EQ(parse({"-h"}).command.action, Action::help);
  EXPECT_EQ(parse({"--check", "--help"}).command.action, Action::help);
  EXPECT_EQ(parse({"--check", "--check"}).command.action, Action::check);
}

TEST(CliArgs, ActionsExcludeEachOther) {
  EXPECT_FALSE(parse({"--check", "--print-config"}).ok());
  EXPECT_FALSE(parse({"--print-config", "--healthcheck"}).ok());
  EXPECT_FALSE(parse({"--healthcheck", "--check"}).ok());
}

TEST(CliArgs, HealthcheckTarget) {
  auto plain = parse({"--healthcheck"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.command.action, Action::healthcheck);
  EXPECT_EQ(plain.command.healthcheck_target, "");
  EXPECT_EQ(parse({"--healthcheck", "/readyz"}).command.healthcheck_target, "/readyz");
  EXPECT_EQ(parse({"--healthcheck", "http://127.0.0.1:9090/healthz"}).command.healthcheck_target,
            "http://127.0.0.1:9090/healthz");
  EXPECT_EQ(parse({"--healthcheck=/readyz"}).command.healthcheck_target, "/readyz");
  // The next argument is a flag, not a target.
  auto next = parse({"--healthcheck", "--config", "x.json"});
  ASSERT_TRUE(next.ok()) << next.error;
  EXPECT_EQ(next.command.healthcheck_target, "");
  EXPECT_EQ(next.command.settings.config->value, "x.json");
}

TEST(CliArgs, UsageErrors) {
  EXPECT_FALSE(parse({"--nope"}).ok());
  EXPECT_FALSE(parse({"stray"}).ok());
  EXPECT_FALSE(parse({"--check=yes"}).ok());
  EXPECT_FALSE(parse({"--route"}).ok());
  // A broken flag is reported even next to --help.
  EXPECT_FALSE(parse({"--help", "--nope"}).ok());
  EXPECT_NE(parse({"--nope"}).error.find("--nope"), std::string::npos);
}

TEST(CliEnv, EveryVariable) {
  auto s = env_of({{"HOPGATE_CONFIG", "/etc/h.json"},
                   {"HOPGATE_UPSTREAM", "socks5h://tor:9050"},
                   {"HOPGATE_HTTP", "0.0.0.0:8118"},
                   {"HOPGATE_SOCKS", "0.0.0.0:1080"},
                   {"HOPGATE_ADMIN", "0.0.0.0:9090"},
                   {"HOPGATE_ADMIN_TOKEN", "t0ken"},
                   {"HOPGATE_LOG_LEVEL", "debug"},
                   {"HOPGATE_LOG_FORMAT", "json"}});
  EXPECT_EQ(s.config, (Setting{"/etc/h.json", "HOPGATE_CONFIG"}));
  EXPECT_EQ(s.upstream, (Setting{"socks5h://tor:9050", "HOPGATE_UPSTREAM"}));
  EXPECT_EQ(s.http, (Setting{"0.0.0.0:8118", "HOPGATE_HTTP"}));
  EXPECT_EQ(s.socks, (Setting{"0.0.0.0:1080", "HOPGATE_SOCKS"}));
  EXPECT_EQ(s.admin, (Setting{"0.0.0.0:9090", "HOPGATE_ADMIN"}));
  EXPECT_EQ(s.admin_token, (Setting{"t0ken", "HOPGATE_ADMIN_TOKEN"}));
  EXPECT_EQ(s.log_level, (Setting{"debug", "HOPGATE_LOG_LEVEL"}));
  EXPECT_EQ(s.log_format, (Setting{"json", "HOPGATE_LOG_FORMAT"}));
  EXPECT_EQ(s.sources().size(), 8u);
  EXPECT_EQ(known_environment().size(), 8u);
}

TEST(CliEnv, EmptyAndUnknownVariablesAreIgnored) {
  auto s = env_of({{"HOPGATE_HTTP", ""}, {"HOPGATE_ROUTES", "x=block"}, {"HTTP_PROXY", "http://x:1"}});
  EXPECT_TRUE(s.sources().empty());
}

TEST(CliEnv, KnownEnvironmentIsWhatIsRead) {
  for (auto name : known_environment()) {
    auto s = env_of({{std::string(name), "v"}});
    auto sources = s.sources();
    ASSERT_EQ(sources.size(), 1u) << name;
    EXPECT_EQ(sources[0], name);
  }
}

TEST(CliMerge, FlagsWinOverEnvironmentFieldByField) {
  auto env = env_of({{"HOPGATE_HTTP", "0.0.0.0:8118"}, {"HOPGATE_SOCKS", "0.0.0.0:1080"}, {"HOPGATE_LOG_LEVEL", "debug"},
                     {"HOPGATE_ADMIN_TOKEN", "t"}});
  auto flags = parse({"--http", "127.0.0.1:3128", "--log-level", "warn", "--route", "a.example=block"}).command.settings;
  auto m = merge_settings(env, flags);
  EXPECT_EQ(m.http, (Setting{"127.0.0.1:3128", "--http"}));
  EXPECT_EQ(m.socks, (Setting{"0.0.0.0:1080", "HOPGATE_SOCKS"}));
  EXPECT_EQ(m.log_level, (Setting{"warn", "--log-level"}));
  EXPECT_EQ(m.admin_token, (Setting{"t", "HOPGATE_ADMIN_TOKEN"}));
  ASSERT_EQ(m.routes.size(), 1u);
  EXPECT_FALSE(m.upstream.has_value());
}

TEST(CliMerge, EnvironmentFillsWhatFlagsLeave) {
  auto env = env_of({{"HOPGATE_CONFIG", "/etc/hopgate/hopgate.json"}, {"HOPGATE_UPSTREAM", "socks5h://tor:9050"}});
  auto m = merge_settings(env, Settings{});
  EXPECT_EQ(m.config->source, "HOPGATE_CONFIG");
  EXPECT_EQ(m.upstream->source, "HOPGATE_UPSTREAM");
  auto flagged = merge_settings(env, parse({"--config", "mine.json"}).command.settings);
  EXPECT_EQ(flagged.config, (Setting{"mine.json", "--config"}));
}

} // namespace
} // namespace hopgate::cli
