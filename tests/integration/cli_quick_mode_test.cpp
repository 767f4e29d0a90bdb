// The real binary driven by flags and HOPGATE_* variables alone: quick mode through a real SOCKS5
// upstream (microsocks), --route, environment overrides and their precedence, JSON log lines,
// --healthcheck, --print-config, exit statuses, and --help against docs/cli.md.
#include "hopgate/cli/overrides.hpp"
#include "hopgate/cli/settings.hpp"
#include "support/curl.hpp"
#include "support/hopgate_process.hpp"
#include "support/net.hpp"
#include "support/origin.hpp"
#include "support/peers.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"
#include "support/tools.hpp"

#include <csignal>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace hopgate::test {
namespace {

using nlohmann::json;
using Env = std::map<std::string, std::string>;

/// Spawn options with exactly `env` as the HOPGATE_* environment (the test runner's own
/// HOPGATE_* and proxy variables are removed).
SpawnOptions options_with(const Env& env, const std::filesystem::path& cwd = {}) {
  SpawnOptions o;
  o.env = env;
  for (auto name : hopgate::cli::known_environment())
    if (!env.count(std::string(name))) o.unset_env.emplace_back(name);
  for (auto name : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "no_proxy", "NO_PROXY"})
    if (!env.count(name)) o.unset_env.emplace_back(name);
  o.cwd = cwd;
  return o;
}

struct Finished {
  int code = -1;
  std::string out; ///< stdout and stderr together
};

/// Runs hopgate to completion (it must exit within 20 s).
Finished run_hopgate(std::vector<std::string> args, const Env& env = {}, const std::filesystem::path& cwd = {}) {
  args.insert(args.begin(), hopgate_binary());
  ChildProcess p(args, options_with(env, cwd));
  auto st = p.wait(20s);
  if (!st) {
    p.stop(SIGKILL);
    ADD_FAILURE() << "did not exit: " << p.command_line() << "\n" << p.output();
    return {};
  }
  return {st->exited() ? st->exit_code() : -1, p.output()};
}

/// A long-running hopgate started from flags and environment; knows the ports it announced.
class Gate {
public:
  Gate(std::vector<std::string> args, const Env& env, std::vector<std::string> listeners) {
    args.insert(args.begin(), hopgate_binary());
    proc_ = std::make_unique<ChildProcess>(args, options_with(env));
    for (auto& name : listeners) {
      // Matches the text format and the "msg" of the JSON format alike.
      auto m = proc_->wait_for_output(std::regex("listening " + name + R"( 127\.0\.0\.1:(\d+))"), 15s);
      if (!m) {
        std::string log = proc_->output();
        proc_->stop(SIGKILL);
        throw std::runtime_error("hopgate did not announce " + name + ": " + proc_->command_line() + "\n" + log);
      }
      ports_[name] = static_cast<std::uint16_t>(std::stoul((*m)[1]));
    }
  }
  ~Gate() {
    if (proc_->running()) {
      auto st = proc_->stop(SIGTERM, 15s);
      EXPECT_TRUE(st.clean()) << st.describe() << "\n" << proc_->output();
    }
  }
  std::uint16_t port(const std::string& name) const { return ports_.at(name); }
  std::string proxy(const std::string& name) const { return "127.0.0.1:" + std::to_string(port(name)); }
  std::string log() const { return proc_->output(); }
  ChildProcess& process() { return *proc_; }

private:
  std::unique_ptr<ChildProcess> proc_;
  std::map<std::string, std::uint16_t> ports_;
};

const std::vector<std::string> loopback_ports = {"--http", "127.0.0.1:0", "--socks", "127.0.0.1:0", "--admin", "127.0.0.1:0"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Waits until microsocks has logged a connection to `target` ("127.0.0.1:PORT").
bool upstream_saw(Microsocks& ms, const std::string& target) {
  return ms.process().wait_for_output("connected to " + target, 5s);
}

/// curl run with `http_proxy` in its environment, the way an HTTP-only app finds a proxy.
Finished curl_with_http_proxy(const std::string& proxy_url, const std::string& url) {
  SpawnOptions o = options_with({{"http_proxy", proxy_url}});
  ChildProcess p({require_tool("curl", "curl"), "-q", "--silent", "--show-error", "--max-time", "20", url}, o);
  auto st = p.wait(30s);
  if (!st) p.stop(SIGKILL);
  return {st && st->exited() ? st->exit_code() : -1, p.output()};
}

TEST(CliQuickMode, OneFlagBridgesHttpAndSocksClientsThroughTheUpstream) {
  HttpOrigin origin;
  Microsocks upstream(Credentials{"bridge", "s3cret"});
  Gate gate(with({"--upstream", "socks5h://bridge:s3cret@" + upstream.address()}, loopback_ports), {},
            {"http", "socks", "admin"});
  std::string target = "127.0.0.1:" + std::to_string(origin.port());

  auto http = curl_with_http_proxy("http://" + gate.proxy("http"), origin.url("/hello"));
  EXPECT_EQ(http.code, 0) << http.out << "\n" << gate.log();
  EXPECT_EQ(http.out, "hello from origin\n");
  EXPECT_TRUE(upstream_saw(upstream, target)) << upstream.log();

  auto connect = run_curl({"-p", "-x", "http://" + gate.proxy("http"), origin.url("/hello")});
  EXPECT_TRUE(connect.ok()) << connect.describe();
  EXPECT_EQ(connect.out, "hello from origin\n");

  auto socks = run_curl({"--socks5-hostname", gate.proxy("socks"), origin.url("/hello")});
  EXPECT_TRUE(socks.ok()) << socks.describe();
  EXPECT_EQ(socks.out, "hello from origin\n");

  auto health = run_curl({"http://" + gate.proxy("admin") + "/healthz"});
  EXPECT_TRUE(health.ok()) << health.describe();
}

TEST(CliQuickMode, DefaultGoesThroughTheUpstreamOnly) {
  // A dead upstream: with the default through it, requests fail instead of going direct.
  HttpOrigin origin;
  auto dead = free_tcp_port();
  Gate gate(with({"--upstream", "socks5h://127.0.0.1:" + std::to_string(dead)}, loopback_ports), {}, {"http", "socks"});
  auto socks = run_curl({"--socks5-hostname", gate.proxy("socks"), origin.url("/hello")}, 20s);
  EXPECT_FALSE(socks.ok()) << socks.describe();
  auto http = run_curl({"-o", "/dev/null", "-w", "%{http_code}", "-x", "http://" + gate.proxy("http"), origin.url("/hello")}, 20s);
  EXPECT_NE(http.out, "200") << http.describe();
  EXPECT_EQ(origin.requests(), 0u);
}

TEST(CliQuickMode, RoutesGoFirstDirectBlockAndUrl) {
  HttpOrigin origin(ListenOptions{true, true});
  Microsocks other;
  auto dead = free_tcp_port();
  std::string port = std::to_string(origin.port());
  Gate gate(with({"--upstream", "socks5h://127.0.0.1:" + std::to_string(dead),
                  "--route", "blocked.test=block",
                  "--route", "127.0.0.1=socks5h://" + other.address(),
                  "--route", "127.0.0.0/8,::1=direct"},
                 loopback_ports),
            {}, {"http", "socks"});
  // 127.0.0.1 matches the URL rule before the wider CIDR rule: through the second upstream.
  auto url = run_curl({"--socks5", gate.proxy("socks"), origin.url("/hello")});
  EXPECT_TRUE(url.ok()) << url.describe() << "\n" << gate.log();
  EXPECT_TRUE(upstream_saw(other, "127.0.0.1:" + port)) << other.log();
  // ::1 matches the CIDR rule: direct, although the default upstream is dead.
  auto direct = run_curl({"--socks5", gate.proxy("socks"), origin.url6("/hello")});
  EXPECT_TRUE(direct.ok()) << direct.describe() << "\n" << gate.log();
  EXPECT_EQ(direct.out, "hello from origin\n");
  // A block rule: the HTTP front end answers 403 without dialing.
  auto blocked = run_curl({"-o", "/dev/null", "-w", "%{http_code}", "-x", "http://" + gate.proxy("http"),
                           "http://blocked.test:" + port + "/hello"}, 20s);
  EXPECT_EQ(blocked.out, "403") << blocked.describe();
  // Anything else takes the default, the dead upstream.
  auto rest = run_curl({"--socks5-hostname", gate.proxy("socks"), "http://elsewhere.test:" + port + "/hello"}, 20s);
  EXPECT_FALSE(rest.ok()) << rest.describe();
}

TEST(CliEnvironment, ContainerStyleStartFromVariablesOnly) {
  HttpOrigin origin;
  Microsocks upstream;
  TempDir dir;
  auto file = dir.write_file("hopgate.json", R"({
    "listeners": { "http": { "listen": "127.0.0.1:8118" }, "socks": { "listen": "127.0.0.1:1080" } },
    "default": { "via": "direct" }
  })");
  Env env{{"HOPGATE_CONFIG", file.string()},
          {"HOPGATE_UPSTREAM", "socks5h://" + upstream.address()},
          {"HOPGATE_HTTP", "127.0.0.1:0"},
          {"HOPGATE_SOCKS", "off"},
          {"HOPGATE_ADMIN", "127.0.0.1:0"},
          {"HOPGATE_ADMIN_TOKEN", "container-token"},
          {"HOPGATE_LOG_LEVEL", "debug"},
          {"HOPGATE_LOG_FORMAT", "json"}};
  Gate gate({}, env, {"http", "admin"});
  auto r = curl_with_http_proxy("http://" + gate.proxy("http"), origin.url("/hello"));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "hello from origin\n");
  EXPECT_TRUE(upstream_saw(upstream, "127.0.0.1:" + std::to_string(origin.port()))) << upstream.log();
  EXPECT_EQ(gate.log().find("listening socks"), std::string::npos) << "HOPGATE_SOCKS=off";
  auto health = run_curl({"http://" + gate.proxy("admin") + "/healthz"});
  EXPECT_TRUE(health.ok()) << health.describe();

  // Every line is one JSON object with time, level and msg; debug lines are there.
  std::this_thread::sleep_for(300ms);
  gate.process().stop(SIGTERM, 15s);
  std::istringstream in(gate.log());
  std::string line;
  int lines = 0, debug = 0;
  while (std::getline(in, line)) {
    ++lines;
    json j;
    ASSERT_NO_THROW(j = json::parse(line)) << "not JSON: " << line;
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    debug += j["level"] == "debug";
  }
  EXPECT_GE(lines, 3);
  EXPECT_GT(debug, 0) << gate.log();
  EXPECT_EQ(gate.log().find("container-token"), std::string::npos) << "the token is never logged";
}

TEST(CliEnvironment, ReloadKeepsFlagsAndVariables) {
  // A reload re-reads the file; the upstream from HOPGATE_UPSTREAM and the --route rule must
  // survive it (losing them would send a Tor bridge's traffic direct), while the file's edit lands.
  HttpOrigin origin;
  Microsocks upstream;
  TempDir dir;
  auto write = [&](const std::string& routes) {
    return dir.write_file("hopgate.json", R"({
      "listeners": { "http": { "listen": "127.0.0.1:0" }, "socks": { "listen": "127.0.0.1:0" } },
      "routes": )" + routes + R"(,
      "default": { "via": "direct" }
    })");
  };
  auto file = write("[]");
  Gate gate({"--route", "blocked-by-flag.test=block"},
            {{"HOPGATE_CONFIG", file.string()}, {"HOPGATE_UPSTREAM", "socks5h://" + upstream.address()}}, {"http", "socks"});
  std::string port = std::to_string(origin.port());
  auto fetch = [&](const std::string& host) {
    return run_curl({"-o", "/dev/null", "-w", "%{http_code}", "-x", "http://" + gate.proxy("http"), "http://" + host + ":" + port + "/hello"}, 20s)
        .out;
  };
  EXPECT_EQ(fetch("127.0.0.1"), "200");
  EXPECT_TRUE(upstream_saw(upstream, "127.0.0.1:" + port)) << upstream.log();
  EXPECT_EQ(fetch("blocked-by-flag.test"), "403");
  EXPECT_EQ(fetch("blocked-by-file.test"), "502") << "not blocked yet: through the upstream, which cannot resolve it";

  write(R"([{ "match": { "domain": "blocked-by-file.test" }, "via": "block" }])");
  ASSERT_EQ(::kill(gate.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(gate.process().wait_for_output(std::regex(R"(config generation \d+ applied \(signal\))"), 10s)) << gate.log();
  EXPECT_EQ(fetch("blocked-by-file.test"), "403") << "the file's new rule";
  EXPECT_EQ(fetch("blocked-by-flag.test"), "403") << "the --route rule kept";
  auto before = origin.requests();
  EXPECT_EQ(fetch("127.0.0.1"), "200");
  EXPECT_EQ(origin.requests(), before + 1);
  // Still through the upstream: microsocks logged a second connection to the origin.
  auto log = upstream.log();
  std::string needle = "connected to 127.0.0.1:" + port;
  std::size_t count = 0;
  for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++count;
  EXPECT_GE(count, 2u) << "HOPGATE_UPSTREAM lost on reload:\n" << log << "\n" << gate.log();
}

TEST(CliEnvironment, LogLevelFlagBeatsVariable) {
  auto admin = free_tcp_port();
  std::string admin_addr = "127.0.0.1:" + std::to_string(admin);
  {
    // HOPGATE_LOG_LEVEL=error hides the info lines.
    ChildProcess p({hopgate_binary(), "--upstream", "socks5h://127.0.0.1:9", "--http", "127.0.0.1:0", "--socks", "off",
                    "--admin", admin_addr},
                   options_with({{"HOPGATE_LOG_LEVEL", "error"}}));
    ASSERT_TRUE(wait_port_open("127.0.0.1", admin, 15s)) << p.output();
    auto h = run_hopgate({"--healthcheck", "http://" + admin_addr + "/healthz"});
    EXPECT_EQ(h.code, 0) << h.out;
    EXPECT_EQ(p.output().find("listening"), std::string::npos) << p.output();
    EXPECT_TRUE(p.stop(SIGTERM, 15s).clean());
  }
  {
    // --log-level info wins over HOPGATE_LOG_LEVEL=error, --log-format json over HOPGATE_LOG_FORMAT=text.
    Gate gate({"--upstream", "socks5h://127.0.0.1:9", "--http", "127.0.0.1:0", "--socks", "off", "--admin", "127.0.0.1:0",
               "--log-level", "info", "--log-format", "json"},
              {{"HOPGATE_LOG_LEVEL", "error"}, {"HOPGATE_LOG_FORMAT", "text"}}, {"http", "admin"});
    std::istringstream in(gate.log());
    std::string line;
    while (std::getline(in, line)) {
      json j;
      EXPECT_NO_THROW(j = json::parse(line)) << line;
    }
  }
}

TEST(CliEnvironment, ConfigFlagBeatsVariable) {
  TempDir dir;
  auto good = dir.write_file("good.json", R"({"listeners": {"socks": {"listen": "127.0.0.1:0"}}})");
  auto missing = (dir.path() / "missing.json").string();
  auto bad = run_hopgate({"--check"}, {{"HOPGATE_CONFIG", missing}});
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("cannot read config file " + missing), std::string::npos) << bad.out;
  auto flag = run_hopgate({"--check", "--config", good.string()}, {{"HOPGATE_CONFIG", missing}});
  EXPECT_EQ(flag.code, 0) << flag.out;
  EXPECT_NE(flag.out.find("listener socks 127.0.0.1:0"), std::string::npos) << flag.out;
  auto env = run_hopgate({"--check"}, {{"HOPGATE_CONFIG", good.string()}});
  EXPECT_EQ(env.code, 0) << env.out;
  EXPECT_NE(env.out.find("config " + good.string() + " is valid"), std::string::npos) << env.out;
}

TEST(CliEnvironment, PrintConfigShowsFlagsOverEnvironmentOverFile) {
  TempDir dir;
  auto file = dir.write_file("hopgate.json", R"({
    // comments are allowed in config files
    "listeners": {
      "http":  { "listen": "127.0.0.1:8118", "allow": ["10.0.0.0/8"] },
      "socks": { "listen": "127.0.0.1:1080" },
      "admin": { "listen": "127.0.0.1:9090" }
    },
    "upstreams": { "office": "http://proxy.corp.example:3128" },
    "routes": [ { "name": "corp", "match": { "domain": "*.corp.example" }, "via": "office" } ],
    "log": { "level": "warn", "format": "text" }
  })");
  Env env{{"HOPGATE_CONFIG", file.string()},     {"HOPGATE_LOG_LEVEL", "error"},      {"HOPGATE_LOG_FORMAT", "json"},
          {"HOPGATE_HTTP", "127.0.0.1:1111"},     {"HOPGATE_SOCKS", "127.0.0.1:2222"}, {"HOPGATE_ADMIN", "0.0.0.0:9999"},
          {"HOPGATE_ADMIN_TOKEN", "tok"},         {"HOPGATE_UPSTREAM", "socks5h://10.0.0.1:9050"}};
  auto r = run_hopgate({"--print-config", "--log-level", "debug", "--http", "127.0.0.1:3333", "--upstream",
                        "socks5h://127.0.0.1:9050", "--route", "*.onion=upstream"},
                       env);
  ASSERT_EQ(r.code, 0) << r.out;
  json doc;
  ASSERT_NO_THROW(doc = json::parse(r.out)) << r.out;
  EXPECT_EQ(doc["log"]["level"], "debug");                                  // flag > env > file
  EXPECT_EQ(doc["log"]["format"], "json");                                  // env > file
  EXPECT_EQ(doc["listeners"]["http"]["listen"], json({"127.0.0.1:3333"}));  // flag > env > file
  EXPECT_EQ(doc["listeners"]["http"]["allow"], json({"10.0.0.0/8"}));       // file
  EXPECT_EQ(doc["listeners"]["socks"]["listen"], json({"127.0.0.1:2222"})); // env > file
  EXPECT_EQ(doc["listeners"]["admin"]["listen"], json({"0.0.0.0:9999"}));   // env
  EXPECT_EQ(doc["listeners"]["admin"]["token"], "tok");                     // env
  EXPECT_EQ(doc["upstreams"]["upstream"], "socks5h://127.0.0.1:9050");      // flag > env
  EXPECT_EQ(doc["upstreams"]["office"], "http://proxy.corp.example:3128");  // file
  EXPECT_EQ(doc["default"]["via"], "upstream");
  ASSERT_EQ(doc["routes"].size(), 2u);
  EXPECT_EQ(doc["routes"][0]["via"], "upstream");
  EXPECT_EQ(doc["routes"][1]["name"], "corp");
  // What --print-config prints is a config file that means the same without flags.
  auto again_file = dir.write_file("printed.json", r.out);
  auto again = run_hopgate({"--print-config", "--config", again_file.string()});
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(json::parse(again.out), doc);
}

TEST(CliEnvironment, AdminTokenVariableUnlocksANonLoopbackAdmin) {
  auto without = run_hopgate({"--check", "--upstream", "socks5h://127.0.0.1:9050"}, {{"HOPGATE_ADMIN", "0.0.0.0:9090"}});
  EXPECT_EQ(without.code, 1) << without.out;
  EXPECT_NE(without.out.find("/listeners/admin/token"), std::string::npos) << without.out;
  auto with_token = run_hopgate({"--check", "--upstream", "socks5h://127.0.0.1:9050"},
                                {{"HOPGATE_ADMIN", "0.0.0.0:9090"}, {"HOPGATE_ADMIN_TOKEN", "t"}});
  EXPECT_EQ(with_token.code, 0) << with_token.out;
  EXPECT_NE(with_token.out.find("listener admin 0.0.0.0:9090 token=set"), std::string::npos) << with_token.out;
  EXPECT_EQ(with_token.out.find("HOPGATE_ADMIN_TOKEN=t"), std::string::npos);
}

TEST(CliEnvironment, BadValuesNameTheirSource) {
  struct Case {
    Env env;
    std::vector<std::string> args;
    std::string expect;
  };
  for (auto& c : std::vector<Case>{
           {{{"HOPGATE_UPSTREAM", "tor:9050"}}, {"--check"}, "HOPGATE_UPSTREAM: expected a URL"},
           {{{"HOPGATE_HTTP", "localhost"}}, {"--check", "--upstream", "socks5h://127.0.0.1:9050"}, "HOPGATE_HTTP: bad listen address"},
           {{{"HOPGATE_SOCKS", "*:70000"}}, {"--check", "--upstream", "socks5h://127.0.0.1:9050"}, "HOPGATE_SOCKS: bad port"},
           {{{"HOPGATE_ADMIN", "x:1"}}, {"--check", "--upstream", "socks5h://127.0.0.1:9050"}, "HOPGATE_ADMIN: listen host must be an IP"},
           {{{"HOPGATE_LOG_LEVEL", "loud"}}, {"--check", "--upstream", "socks5h://127.0.0.1:9050"}, "HOPGATE_LOG_LEVEL: unknown level"},
           {{{"HOPGATE_LOG_FORMAT", "xml"}}, {"--check", "--upstream", "socks5h://127.0.0.1:9050"}, "HOPGATE_LOG_FORMAT: unknown format"},
           {{{"HOPGATE_ADMIN_TOKEN", "t"}}, {"--check", "--upstream", "socks5h://127.0.0.1:9050", "--admin", "off"}, "HOPGATE_ADMIN_TOKEN: there is no admin listener"},
           {{}, {"--check", "--route", "*.onion=upstream"}, "--route 1: \"upstream\" names the --upstream"},
           {{}, {"--check", "--route", "*.onion"}, "--route 1: expected MATCH=ACTION"},
           {{}, {"--check", "--upstream", "socks6://x:1"}, "--upstream: unknown scheme"},
       }) {
    auto r = run_hopgate(c.args, c.env);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << "expected \"" << c.expect << "\" in:\n" << r.out;
  }
}

TEST(CliExit, StatusesAndVersion) {
  auto v = run_hopgate({"--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_TRUE(std::regex_match(v.out, std::regex(R"(hopgate \d+\.\d+\.\d+\n)"))) << v.out;
  auto usage = run_hopgate({"--frobnicate"});
  EXPECT_EQ(usage.code, 2);
  EXPECT_NE(usage.out.find("--frobnicate"), std::string::npos);
  EXPECT_EQ(run_hopgate({"--http"}).code, 2);
  EXPECT_EQ(run_hopgate({"--check", "--print-config"}).code, 2);
  TempDir dir;
  auto broken = dir.write_file("broken.json", R"({"listeners": {"socks": {"listen": "127.0.0.1:0", "color": "red"}}})");
  auto invalid = run_hopgate({"--check", "--config", broken.string()});
  EXPECT_EQ(invalid.code, 1);
  EXPECT_NE(invalid.out.find("/listeners/socks/color: unknown key"), std::string::npos) << invalid.out;
  auto syntax = dir.write_file("syntax.json", "{ nope");
  EXPECT_EQ(run_hopgate({"--check", "--config", syntax.string()}).code, 1);
  // --print-config prints even an invalid result (to see what is wrong), but exits 1.
  auto printed = run_hopgate({"--print-config", "--config", broken.string()});
  EXPECT_EQ(printed.code, 1);
  EXPECT_NE(printed.out.find("\"color\": \"red\""), std::string::npos) << printed.out;
}

TEST(CliExit, APortAnotherHopgateListensOnIsRefused) {
  // Each worker listens with SO_REUSEPORT: without a check a second hopgate could join the port
  // and silently take part of its connections.
  HttpOrigin origin;
  HopgateProcess first({{"workers", 2},
                        {"listeners", {{"socks", {{"listen", {"127.0.0.1:0"}}}}, {"http", {{"listen", {"127.0.0.1:0"}}}}}},
                        {"default", {{"via", "direct"}}}});
  auto taken = "127.0.0.1:" + std::to_string(first.port("socks"));
  TempDir dir;
  auto cfg = dir.write_file("second.json", nlohmann::json{{"workers", 2},
                                                          {"listeners", {{"socks", {{"listen", {taken}}}}}},
                                                          {"default", {{"via", "direct"}}}}.dump());
  auto second = run_hopgate({"--config", cfg.string()});
  EXPECT_EQ(second.code, 1) << second.out;
  EXPECT_NE(second.out.find("cannot listen on " + taken + " (/listeners/socks/listen/0)"), std::string::npos) << second.out;
  // The first one still takes every connection.
  for (int i = 0; i < 20; ++i) {
    auto r = run_curl({"--socks5", taken, origin.url("/hello")});
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.out, "hello from origin\n");
  }
}

TEST(CliDefaults, BuiltInBaseWhenNoFileIsFound) {
  if (std::filesystem::exists("/etc/hopgate/hopgate.json")) GTEST_SKIP() << "/etc/hopgate/hopgate.json is installed here";
  TempDir empty;
  auto r = run_hopgate({"--check"}, {}, empty.path());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("(built-in defaults)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("listener http 127.0.0.1:8118"), std::string::npos);
  EXPECT_NE(r.out.find("listener socks 127.0.0.1:1080"), std::string::npos);
  EXPECT_NE(r.out.find("listener admin 127.0.0.1:9090"), std::string::npos);
}

TEST(CliDefaults, QuickModeIgnoresTheDefaultFile) {
  // In the source tree config/hopgate.json exists; quick mode does not read it.
  auto r = run_hopgate({"--check", "--upstream", "socks5h://127.0.0.1:9050"}, {}, HOPGATE_SOURCE_DIR);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("config (quick mode) + --upstream is valid"), std::string::npos) << r.out;
  auto plain = run_hopgate({"--check"}, {}, HOPGATE_SOURCE_DIR);
  EXPECT_NE(plain.out.find("config config/hopgate.json is valid"), std::string::npos) << plain.out;
}

TEST(CliDefaults, BuiltInBaseEqualsTheShippedDefaultConfig) {
  std::ifstream in(std::string(HOPGATE_SOURCE_DIR) + "/config/hopgate.json");
  auto shipped = json::parse(in, nullptr, true, true);
  auto a = config::load_config(shipped);
  auto b = config::load_config(hopgate::cli::builtin_base());
  ASSERT_TRUE(a.ok() && b.ok());
  auto eps = [](const config::Listener* l) { return l ? l->listen : decltype(l->listen){}; };
  EXPECT_EQ(eps(a.config->listeners.http()), eps(b.config->listeners.http()));
  EXPECT_EQ(eps(a.config->listeners.socks()), eps(b.config->listeners.socks()));
  EXPECT_EQ(eps(a.config->listeners.admin()), eps(b.config->listeners.admin()));
  EXPECT_EQ(a.config->routes.size(), b.config->routes.size());
  EXPECT_EQ(a.config->default_via.display(), b.config->default_via.display());
}

TEST(CliHealthcheck, AgainstARunningGateway) {
  auto admin = free_tcp_port();
  std::string admin_addr = "127.0.0.1:" + std::to_string(admin);
  Gate gate({"--upstream", "socks5h://127.0.0.1:9", "--http", "127.0.0.1:0", "--socks", "off", "--admin", admin_addr}, {},
            {"http", "admin"});
  auto url = run_hopgate({"--healthcheck", "http://" + admin_addr + "/healthz"});
  EXPECT_EQ(url.code, 0) << url.out;
  EXPECT_NE(url.out.find("200"), std::string::npos) << url.out;
  // Derived from the config: the admin listener's address, /healthz by default.
  auto derived = run_hopgate({"--upstream", "socks5h://127.0.0.1:9", "--admin", admin_addr, "--healthcheck"});
  EXPECT_EQ(derived.code, 0) << derived.out;
  auto env = run_hopgate({"--healthcheck", "/readyz"}, {{"HOPGATE_UPSTREAM", "socks5h://127.0.0.1:9"}, {"HOPGATE_ADMIN", admin_addr}});
  EXPECT_EQ(env.code, 0) << env.out;
  auto missing = run_hopgate({"--upstream", "socks5h://127.0.0.1:9", "--admin", admin_addr, "--healthcheck", "/no-such-endpoint"});
  EXPECT_EQ(missing.code, 1) << missing.out;
  EXPECT_NE(missing.out.find("404"), std::string::npos) << missing.out;
}

TEST(CliHealthcheck, FailsFastWhenNothingAnswers) {
  auto port = free_tcp_port();
  auto start = std::chrono::steady_clock::now();
  auto r = run_hopgate({"--healthcheck", "http://127.0.0.1:" + std::to_string(port) + "/healthz"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  EXPECT_EQ(run_hopgate({"--healthcheck", "https://127.0.0.1:1/"}).code, 2);
}

TEST(CliHealthcheck, SendsTheAdminTokenAsBearer) {
  HttpOrigin origin; // GET /headers answers with the request head it received
  auto r = run_hopgate({"--healthcheck", origin.url("/headers")}, {{"HOPGATE_ADMIN_TOKEN", "abc123"}});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("Authorization: Bearer abc123"), std::string::npos) << r.out;
  // The token of the config file's admin listener is used too.
  TempDir dir;
  auto file = dir.write_file("h.json", R"({"listeners": {"socks": {"listen": "127.0.0.1:0"},
      "admin": {"listen": "127.0.0.1:)" + std::to_string(origin.port()) + R"(", "token": "from-file"}}})");
  auto f = run_hopgate({"--config", file.string(), "--healthcheck", "/headers"});
  EXPECT_EQ(f.code, 0) << f.out;
  EXPECT_NE(f.out.find("Authorization: Bearer from-file"), std::string::npos) << f.out;
}

TEST(CliExamples, TorBridgePassesEachUsersCredentialsToTheUpstream) {
  // config/examples/tor-bridge.json with its ports made free and microsocks standing in for Tor;
  // microsocks knows only the example's user "apt", so a request as "git" failing at the upstream
  // shows that each client's own credentials travel to it (what Tor isolates circuits by).
  std::ifstream in(std::string(HOPGATE_SOURCE_DIR) + "/config/examples/tor-bridge.json");
  auto doc = json::parse(in, nullptr, true, true);
  auto users = doc["users"];
  std::string apt_password;
  for (auto& u : users)
    if (u["name"] == "apt") apt_password = u["password"];
  ASSERT_FALSE(apt_password.empty());
  Microsocks tor(Credentials{"apt", apt_password});
  HttpOrigin origin;
  for (auto& [name, l] : doc["listeners"].items()) l["listen"] = {"127.0.0.1:0"};
  doc["upstreams"]["tor"]["url"] = "socks5h://" + tor.address();
  HopgateProcess gate(doc);
  std::string proxy = "127.0.0.1:" + std::to_string(gate.port("http"));
  auto as_apt = run_curl({"-x", "http://apt:" + apt_password + "@" + proxy, "http://localhost:" + std::to_string(origin.port()) + "/hello"});
  EXPECT_TRUE(as_apt.ok()) << as_apt.describe() << "\n" << gate.log();
  EXPECT_EQ(as_apt.out, "hello from origin\n");
  // The name went to the upstream unresolved (socks5h): microsocks logs the name, not an address.
  EXPECT_TRUE(tor.process().wait_for_output("connected to localhost:" + std::to_string(origin.port()), 5s)) << tor.log();
  std::string git_password;
  for (auto& u : users)
    if (u["name"] == "git") git_password = u["password"];
  auto as_git = run_curl({"-o", "/dev/null", "-w", "%{http_code}", "-x", "http://git:" + git_password + "@" + proxy,
                          "http://localhost:" + std::to_string(origin.port()) + "/hello"});
  EXPECT_EQ(as_git.out, "502") << as_git.describe();
  // Without credentials the HTTP front end asks for them.
  auto anonymous = run_curl({"-o", "/dev/null", "-w", "%{http_code}", "-x", "http://" + proxy, origin.url("/hello")});
  EXPECT_EQ(anonymous.out, "407") << anonymous.describe();
  EXPECT_EQ(origin.requests(), 1u);
}

/// The text between "```text\n" after `marker` and the closing "```".
std::string fenced_block_after(const std::string& doc, const std::string& marker) {
  auto at = doc.find(marker);
  if (at == std::string::npos) return {};
  auto open = doc.find("```text\n", at);
  if (open == std::string::npos) return {};
  open += 8;
  auto close = doc.find("\n```", open);
  if (close == std::string::npos) return {};
  return doc.substr(open, close - open + 1);
}

TEST(CliHelp, MatchesDocsCliMd) {
  auto help = run_hopgate({"--help"});
  ASSERT_EQ(help.code, 0);
  auto doc = read_text_file(std::string(HOPGATE_SOURCE_DIR) + "/docs/cli.md");
  ASSERT_FALSE(doc.empty()) << "docs/cli.md is missing";
  EXPECT_EQ(fenced_block_after(doc, "<!-- hopgate --help -->"), help.out)
      << "docs/cli.md must quote `hopgate --help` verbatim after the marker";
  // Man page shape: the sections a reader looks for, lines that fit a terminal.
  for (auto section : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "FILES", "SIGNALS", "EXIT STATUS",
                       "EXAMPLES"})
    EXPECT_NE(help.out.find(std::string("\n") + section + "\n"), std::string::npos) << section;
  std::istringstream in(help.out);
  std::string line;
  while (std::getline(in, line)) EXPECT_LE(line.size(), 80u) << line;
}

TEST(CliHelp, NamesEveryFlagAndVariable) {
  auto help = run_hopgate({"--help"}).out;
  for (auto flag : {"--config", "--upstream", "--http", "--socks", "--admin", "--route", "--log-level", "--log-format",
                    "--check", "--print-config", "--healthcheck", "--version", "--help"})
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  for (auto name : hopgate::cli::known_environment()) EXPECT_NE(help.find(std::string(name)), std::string::npos) << name;
  // And every flag --help names is one the parser takes.
  std::smatch m;
  std::string rest = help;
  std::set<std::string> named;
  while (std::regex_search(rest, m, std::regex(R"(--[a-z][a-z-]+)"))) {
    named.insert(m.str());
    rest = m.suffix();
  }
  for (auto& flag : named) {
    auto r = hopgate::cli::parse_args({flag, "x"});
    auto r2 = hopgate::cli::parse_args({flag});
    EXPECT_TRUE(r.ok() || r2.ok() || r.error.find("unknown argument \"x\"") != std::string::npos ||
                r.error.find("cannot be combined") != std::string::npos)
        << flag << ": " << r.error;
  }
}

} // namespace
} // namespace hopgate::test
