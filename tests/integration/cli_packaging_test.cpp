// What can be tested of the container image, the Compose and Kubernetes files and the systemd unit
// without a Docker engine or a cluster: that they agree with scripts/deps.sh, with the shipped
// configs, with the environment variables hopgate reads, and with each other; that their configs pass
// `hopgate --check`; that `cmake --install` lays out the files the unit names; that the unit verifies.
#include "hopgate/cli/settings.hpp"
#include "hopgate/config/loader.hpp"
#include "support/hopgate_process.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"
#include "support/tools.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

namespace hopgate::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path src(const std::string& rel) { return fs::path(HOPGATE_SOURCE_DIR) / rel; }

std::string text_of(const fs::path& p) {
  auto t = read_text_file(p);
  if (t.empty()) ADD_FAILURE() << p << " is missing or empty";
  return t;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

struct Ran {
  int code = -1;
  std::string out;
};

/// Runs argv to completion with `env` added and every HOPGATE_* variable removed unless given.
Ran run(std::vector<std::string> argv, const std::map<std::string, std::string>& env = {}) {
  SpawnOptions o;
  o.env = env;
  for (auto n : cli::known_environment())
    if (!env.count(std::string(n))) o.unset_env.emplace_back(n);
  ChildProcess p(argv, o);
  auto st = p.wait(120s);
  if (!st) {
    p.stop(SIGKILL);
    ADD_FAILURE() << "did not finish: " << p.command_line();
  }
  return {st && st->exited() ? st->exit_code() : -1, p.output()};
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/// The Dockerfile with continuation lines joined, comments dropped, split into stages.
std::vector<std::vector<std::string>> dockerfile_stages() {
  std::vector<std::vector<std::string>> stages;
  std::string joined;
  for (auto line : lines_of(text_of(src("docker/Dockerfile")))) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    bool more = !line.empty() && line.back() == '\\';
    if (more) line.pop_back();
    joined += line + " ";
    if (more) continue;
    auto instr = joined.substr(joined.find_first_not_of(" "));
    joined.clear();
    if (instr.rfind("FROM ", 0) == 0) stages.emplace_back();
    if (stages.empty()) continue;
    stages.back().push_back(instr);
  }
  return stages;
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

/// Instructions of `stage` starting with `keyword` ("RUN", "EXPOSE").
std::vector<std::string> instructions(const std::vector<std::string>& stage, const std::string& keyword) {
  std::vector<std::string> out;
  for (auto& i : stage)
    if (i.rfind(keyword + " ", 0) == 0) out.push_back(i.substr(keyword.size() + 1));
  return out;
}

std::set<std::string> print_runtime_packages() {
  auto r = run({"bash", src("scripts/deps.sh").string(), "--print-runtime"});
  EXPECT_EQ(r.code, 0) << r.out;
  auto w = words(r.out);
  return {w.begin(), w.end()};
}

TEST(CliDocker, RuntimePackagesAreExactlyDepsShRuntime) {
  auto stages = dockerfile_stages();
  ASSERT_EQ(stages.size(), 2u) << "a build stage and a runtime stage";
  std::set<std::string> installed;
  for (auto& r : instructions(stages[1], "RUN")) {
    auto w = words(r);
    for (std::size_t i = 0; i + 1 < w.size(); ++i) {
      if (w[i] != "apt-get" || w[i + 1] != "install") continue;
      for (std::size_t k = i + 2; k < w.size() && w[k] != "&&" && w[k] != ";"; ++k)
        if (w[k][0] != '-') installed.insert(w[k]);
    }
  }
  auto expected = print_runtime_packages();
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(installed, expected) << "docker/Dockerfile's runtime apt-get install list must equal scripts/deps.sh --print-runtime";
  // The build stage installs through the script itself, not a copy of its list.
  bool uses_script = false;
  for (auto& r : instructions(stages[0], "RUN")) uses_script = uses_script || r.find("scripts/deps.sh build") != std::string::npos;
  EXPECT_TRUE(uses_script);
  for (auto& r : instructions(stages[0], "RUN")) EXPECT_EQ(r.find("apt-get install"), std::string::npos) << r;
}

TEST(CliDocker, ImageShape) {
  auto stages = dockerfile_stages();
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_TRUE(std::regex_match(stages[0][0], std::regex(R"(FROM debian:bookworm AS \w+\s*)"))) << stages[0][0];
  EXPECT_TRUE(std::regex_match(stages[1][0], std::regex(R"(FROM debian:bookworm-slim\s*)"))) << stages[1][0];
  auto& rt = stages[1];

  auto user = instructions(rt, "USER");
  ASSERT_EQ(user.size(), 1u);
  auto uid = words(user[0]).at(0);
  uid = uid.substr(0, uid.find(':'));
  EXPECT_TRUE(std::regex_match(uid, std::regex(R"(\d+)"))) << "numeric, for runAsNonRoot: " << uid;
  EXPECT_NE(uid, "0");

  auto stop = instructions(rt, "STOPSIGNAL");
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(words(stop[0]), std::vector<std::string>{"SIGTERM"});

  auto health = instructions(rt, "HEALTHCHECK");
  ASSERT_EQ(health.size(), 1u);
  EXPECT_NE(health[0].find(R"(CMD ["/usr/bin/hopgate", "--healthcheck"])"), std::string::npos) << health[0];

  // EXPOSE lists the ports of the image's config, and the config is where HOPGATE_CONFIG says.
  std::string config_in_image, config_source;
  for (auto& c : instructions(rt, "COPY")) {
    auto w = words(c);
    if (w.size() == 2 && w[1] == "/etc/hopgate/hopgate.json") config_source = w[0];
  }
  ASSERT_FALSE(config_source.empty()) << "COPY of the config to /etc/hopgate/hopgate.json";
  EXPECT_TRUE(fs::exists(src(config_source))) << config_source;
  bool env_ok = false;
  for (auto& e : instructions(rt, "ENV")) env_ok = env_ok || e.find("HOPGATE_CONFIG=/etc/hopgate/hopgate.json") != std::string::npos;
  EXPECT_TRUE(env_ok) << "ENV HOPGATE_CONFIG=/etc/hopgate/hopgate.json";

  std::set<std::string> exposed;
  for (auto& e : instructions(rt, "EXPOSE"))
    for (auto& p : words(e)) exposed.insert(p);
  EXPECT_EQ(exposed, (std::set<std::string>{"8118", "1080", "9090"}));
  std::ifstream in(src(config_source));
  auto cfg = config::load_config(json::parse(in, nullptr, true, true));
  ASSERT_TRUE(cfg.ok());
  std::set<std::string> listening;
  for (auto* l : {cfg.config->listeners.http(), cfg.config->listeners.socks(), cfg.config->listeners.admin()})
    if (l)
      for (auto& ep : l->listen) listening.insert(std::to_string(ep.port()));
  EXPECT_EQ(exposed, listening);

  auto entry = instructions(rt, "ENTRYPOINT");
  ASSERT_EQ(entry.size(), 1u);
  EXPECT_NE(entry[0].find("/usr/bin/hopgate"), std::string::npos);
  // The build stage copies the binary where the runtime stage takes it from.
  bool copied = false;
  for (auto& c : instructions(rt, "COPY")) copied = copied || c.find("--from=build /out/usr/bin/hopgate /usr/bin/hopgate") != std::string::npos;
  EXPECT_TRUE(copied);
}

TEST(CliDocker, ImageConfigWithItsEnvironmentPassesCheck) {
  // What the container runs: HOPGATE_CONFIG from the image plus the compose file's variables.
  auto r = run({hopgate_binary(), "--check"},
               {{"HOPGATE_CONFIG", src("config/examples/sidecar.json").string()},
                {"HOPGATE_UPSTREAM", "socks5h://tor:9050"},
                {"HOPGATE_LOG_FORMAT", "json"},
                {"HOPGATE_LOG_LEVEL", "info"}});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("listener http 0.0.0.0:8118"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("listener socks 0.0.0.0:1080"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("listener admin 127.0.0.1:9090"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("route default -> upstream"), std::string::npos) << r.out;
  // Exposing the admin API needs the token variable too.
  auto exposed = run({hopgate_binary(), "--check"},
                     {{"HOPGATE_CONFIG", src("config/examples/sidecar.json").string()}, {"HOPGATE_ADMIN", "0.0.0.0:9090"}});
  EXPECT_EQ(exposed.code, 1) << exposed.out;
  auto with_token = run({hopgate_binary(), "--check"}, {{"HOPGATE_CONFIG", src("config/examples/sidecar.json").string()},
                                                        {"HOPGATE_ADMIN", "0.0.0.0:9090"},
                                                        {"HOPGATE_ADMIN_TOKEN", "x"}});
  EXPECT_EQ(with_token.code, 0) << with_token.out;
}

TEST(CliDocker, RuntimeLibrariesComeFromTheRuntimePackages) {
  auto dpkg = find_tool("dpkg");
  auto ldd = find_tool("ldd");
  if (!dpkg || !ldd) GTEST_SKIP() << "needs dpkg and ldd (Debian)";
  auto r = run({*ldd, hopgate_binary()});
  ASSERT_EQ(r.code, 0) << r.out;
  // In debian:bookworm-slim already (Priority: required): the C and C++ runtimes.
  std::set<std::string> allowed{"libc6", "libstdc++6", "libgcc-s1"};
  for (auto& p : print_runtime_packages()) allowed.insert(p);
  std::regex lib_re(R"(^\s*(\S+) => (/\S+))");
  // name -> the paths it may be registered under (usrmerge: /lib and /usr/lib are one).
  std::map<std::string, std::vector<std::string>> libs;
  std::vector<std::string> query{*dpkg, "-S"};
  for (auto& line : lines_of(r.out)) {
    std::smatch m;
    if (!std::regex_search(line, m, lib_re)) continue;
    std::string name = m[1], path = m[2];
    if (name.find("asan") != std::string::npos || name.find("ubsan") != std::string::npos ||
        name.find("tsan") != std::string::npos)
      continue; // sanitizer builds
    std::vector<std::string> candidates{path, fs::canonical(path).string()};
    for (auto c : std::vector<std::string>(candidates)) {
      if (c.rfind("/usr/", 0) == 0) candidates.push_back(c.substr(4));
      else candidates.push_back("/usr" + c);
    }
    libs[name] = candidates;
    query.insert(query.end(), candidates.begin(), candidates.end());
  }
  auto owners = run(query); // one dpkg run: it is slow per call; exit 1 for the paths it does not know
  std::map<std::string, std::string> package_of; // path -> package
  for (auto& l : lines_of(owners.out)) {
    auto colon = l.find(": ");
    if (colon == std::string::npos || l.find("diversion") != std::string::npos) continue;
    auto package = l.substr(0, colon);
    package = package.substr(0, package.find(':')); // libfmt9:amd64
    std::istringstream paths(l.substr(colon + 2));
    std::string p;
    while (std::getline(paths, p, ',')) package_of[p.substr(p.find_first_not_of(' '))] = package;
  }
  int checked = 0;
  for (auto& [name, candidates] : libs) {
    std::string package;
    for (auto& c : candidates)
      if (package_of.count(c)) package = package_of[c];
    EXPECT_FALSE(package.empty()) << "no package owns " << name << ":\n" << owners.out;
    if (package.empty()) continue;
    EXPECT_TRUE(allowed.count(package)) << name << " comes from " << package
                                        << ", which is not in scripts/deps.sh --print-runtime nor the base image";
    ++checked;
  }
  EXPECT_GE(checked, 3) << r.out;
}

TEST(CliDocker, HadolintIfAvailable) {
  auto hadolint = find_tool("hadolint");
  if (!hadolint) GTEST_SKIP() << "hadolint is not installed (not packaged in Debian 12); optional";
  auto r = run({*hadolint, "--ignore", "DL3008", src("docker/Dockerfile").string()});
  EXPECT_EQ(r.code, 0) << r.out;
}

// ---------------------------------------------------------------------------------------------
// Environment variable names in the deployment files

/// A CMake cache variable (-DHOPGATE_BUILD_TESTS=OFF) or an install-time placeholder
/// (@HOPGATE_INSTALL_BINDIR@), not an environment variable.
bool is_build_variable(const std::string& text, const std::smatch& m) {
  auto at = static_cast<std::size_t>(m.position(0));
  return (at >= 2 && text.compare(at - 2, 2, "-D") == 0) || (at >= 1 && text[at - 1] == '@');
}

TEST(CliDocker, DeploymentFilesUseOnlyVariablesHopgateReads) {
  std::set<std::string> known;
  for (auto n : cli::known_environment()) known.insert(std::string(n));
  std::regex var_re(R"(HOPGATE_[A-Z0-9_]+)");
  std::set<std::string> used;
  for (auto& e : fs::recursive_directory_iterator(src("docker"))) {
    if (!e.is_regular_file()) continue;
    auto text = read_text_file(e.path());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), var_re); it != std::sregex_iterator(); ++it) {
      if (is_build_variable(text, *it)) continue;
      used.insert(it->str());
      EXPECT_TRUE(known.count(it->str())) << e.path() << " uses " << it->str() << ", which hopgate does not read";
    }
  }
  for (auto expected : {"HOPGATE_CONFIG", "HOPGATE_UPSTREAM", "HOPGATE_LOG_FORMAT", "HOPGATE_ADMIN_TOKEN"})
    EXPECT_TRUE(used.count(expected)) << expected << " is not used by any file in docker/";
  // The systemd unit's environment file is documented with the same names.
  auto unit = text_of(src("packaging/hopgate.service"));
  for (auto it = std::sregex_iterator(unit.begin(), unit.end(), var_re); it != std::sregex_iterator(); ++it)
    if (!is_build_variable(unit, *it)) {
      EXPECT_TRUE(known.count(it->str())) << it->str();
    }
}

TEST(CliDocker, ComposeWiring) {
  auto compose = text_of(src("docker/compose.yml"));
  // Three services.
  for (auto s : {"\n  tor:\n", "\n  hopgate:\n", "\n  app:\n"}) EXPECT_NE(compose.find(s), std::string::npos) << s;
  EXPECT_NE(compose.find("dockerfile: docker/Dockerfile"), std::string::npos);
  EXPECT_NE(compose.find("context: .."), std::string::npos);
  // hopgate's upstream is the tor service's SOCKS port, with remote DNS.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(compose, m, std::regex(R"(HOPGATE_UPSTREAM:\s*(\S+))")));
  std::string why;
  auto hop = config::parse_hop_url(m[1].str(), why);
  ASSERT_TRUE(hop) << why;
  EXPECT_EQ(hop->host, "tor");
  EXPECT_EQ(hop->scheme, config::Hop::Scheme::socks5h) << "names resolved by Tor";
  EXPECT_NE(compose.find("SocksPort 0.0.0.0:" + std::to_string(hop->port)), std::string::npos);
  // The app uses hopgate's HTTP port from the image's config, through http_proxy.
  EXPECT_NE(compose.find("http_proxy: http://hopgate:8118"), std::string::npos);
  EXPECT_NE(compose.find("https_proxy: http://hopgate:8118"), std::string::npos);
  EXPECT_NE(compose.find("condition: service_healthy"), std::string::npos) << "the app waits for the HEALTHCHECK";
  ASSERT_TRUE(std::regex_search(compose, m, std::regex(R"(HOPGATE_LOG_FORMAT:\s*(\w+))")));
  EXPECT_TRUE(m[1] == "json" || m[1] == "text");
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

/// The block scalar under `key: |` in a YAML file, with its indentation removed.
std::string yaml_block(const std::string& yaml, const std::string& key) {
  auto lines = lines_of(yaml);
  std::string out;
  std::size_t key_indent = 0, indent = std::string::npos;
  bool inside = false;
  for (auto& l : lines) {
    auto first = l.find_first_not_of(' ');
    if (!inside) {
      if (first != std::string::npos && l.compare(first, key.size() + 3, key + ": |") == 0) {
        inside = true;
        key_indent = first;
      }
      continue;
    }
    if (first == std::string::npos) {
      out += "\n";
      continue;
    }
    if (first <= key_indent) break;
    if (indent == std::string::npos) indent = first;
    out += l.substr(std::min(indent, first)) + "\n";
  }
  return out;
}

/// The value of the first `name: VALUE` line after `anchor` (both plain text, YAML-naive).
std::string yaml_value_after(const std::string& yaml, const std::string& anchor, const std::string& name) {
  auto at = yaml.find(anchor);
  if (at == std::string::npos) return {};
  std::smatch m;
  std::string rest = yaml.substr(at);
  if (!std::regex_search(rest, m, std::regex("\\b" + name + R"(:\s*([^\s#]+))"))) return {};
  return m[1];
}

struct K8s {
  std::string configmap = text_of(src("docker/k8s/configmap.yaml"));
  std::string deployment = text_of(src("docker/k8s/deployment.yaml"));
  std::string config_text = yaml_block(configmap, "hopgate.json");
};

TEST(CliK8s, ConfigMapConfigPassesCheckWithTheDeploymentsEnvironment) {
  K8s k;
  ASSERT_FALSE(k.config_text.empty()) << "no hopgate.json block in the ConfigMap";
  json doc;
  ASSERT_NO_THROW(doc = json::parse(k.config_text)) << k.config_text;
  TempDir dir;
  auto file = dir.write_file("hopgate.json", k.config_text);
  // The Deployment's variables, the Secret's token replaced by a stand-in.
  std::map<std::string, std::string> env{{"HOPGATE_CONFIG", file.string()}, {"HOPGATE_ADMIN_TOKEN", "stand-in"}};
  std::smatch m;
  std::regex plain_env(R"(- name: (HOPGATE_[A-Z_]+)\s*\n\s*value: (\S+))");
  for (auto it = std::sregex_iterator(k.deployment.begin(), k.deployment.end(), plain_env); it != std::sregex_iterator(); ++it)
    if ((*it)[1] != "HOPGATE_CONFIG") env[(*it)[1]] = (*it)[2];
  auto ok = run({hopgate_binary(), "--check"}, env);
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("token=set"), std::string::npos) << ok.out;
  // Without the Secret the admin API on the pod address is refused: the token is really needed.
  env.erase("HOPGATE_ADMIN_TOKEN");
  auto refused = run({hopgate_binary(), "--check"}, env);
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(k.deployment.find("name: HOPGATE_ADMIN_TOKEN\n              valueFrom:\n                secretKeyRef:"), std::string::npos);
}

TEST(CliK8s, DeploymentMatchesTheConfig) {
  K8s k;
  EXPECT_FALSE(config::load_config(json::parse(k.config_text)).ok()) << "the token is not in the ConfigMap";
  // Load with the token the Secret supplies.
  auto doc = json::parse(k.config_text);
  doc["listeners"]["admin"]["token"] = "stand-in";
  auto loaded = config::load_config(doc);
  ASSERT_TRUE(loaded.ok());
  auto& l = loaded.config->listeners;
  ASSERT_TRUE(l.http() && l.socks() && l.admin());
  // Sidecar: the proxy ports stay on loopback (shared network namespace).
  EXPECT_TRUE(l.http()->listen.at(0).address().is_loopback());
  EXPECT_TRUE(l.socks()->listen.at(0).address().is_loopback());

  std::map<std::string, std::string> ports; // name -> containerPort
  std::regex port_re(R"(- name: ([\w-]+)\s*\n\s*containerPort: (\d+))");
  for (auto it = std::sregex_iterator(k.deployment.begin(), k.deployment.end(), port_re); it != std::sregex_iterator(); ++it)
    ports[(*it)[1]] = (*it)[2];
  EXPECT_EQ(ports["http-proxy"], std::to_string(l.http()->listen.at(0).port()));
  EXPECT_EQ(ports["socks"], std::to_string(l.socks()->listen.at(0).port()));
  EXPECT_EQ(ports["admin"], std::to_string(l.admin()->listen.at(0).port()));

  // Liveness: GET /healthz on the admin port; readiness: hopgate's own probe of /readyz.
  EXPECT_EQ(yaml_value_after(k.deployment, "livenessProbe:", "path"), "/healthz");
  auto probe_port = yaml_value_after(k.deployment, "livenessProbe:", "port");
  EXPECT_TRUE(probe_port == "admin" || probe_port == ports["admin"]) << probe_port;
  auto readiness = k.deployment.substr(k.deployment.find("readinessProbe:"));
  EXPECT_NE(readiness.find(R"(command: ["/usr/bin/hopgate", "--healthcheck", "/readyz"])"), std::string::npos);
  // The app's proxy variables point at the sidecar's HTTP listener.
  EXPECT_NE(k.deployment.find("value: http://127.0.0.1:" + ports["http-proxy"]), std::string::npos);

  // The ConfigMap is mounted where HOPGATE_CONFIG points.
  std::string cm_name = yaml_value_after(k.configmap, "metadata:", "name");
  EXPECT_EQ(yaml_value_after(k.deployment, "configMap:", "name"), cm_name);
  auto config_path = yaml_value_after(k.deployment, "name: HOPGATE_CONFIG", "value");
  auto mount = yaml_value_after(k.deployment, "volumeMounts:", "mountPath");
  EXPECT_EQ(fs::path(config_path).parent_path().string(), mount);
  EXPECT_EQ(fs::path(config_path).filename().string(), "hopgate.json");

  // The grace period outlasts hopgate's drain; the user is the image's.
  auto grace = std::stod(yaml_value_after(k.deployment, "spec:", "terminationGracePeriodSeconds"));
  EXPECT_GT(grace, loaded.config->timeouts.shutdown_grace.count());
  std::string image_uid;
  for (auto& u : instructions(dockerfile_stages().at(1), "USER")) image_uid = u.substr(0, u.find(':'));
  EXPECT_EQ(yaml_value_after(k.deployment, "initContainers:", "runAsUser"), image_uid);
  EXPECT_EQ(yaml_value_after(k.deployment, "initContainers:", "readOnlyRootFilesystem"), "true");
}

// ---------------------------------------------------------------------------------------------
// cmake --install and the systemd unit

fs::path build_dir() { return fs::path(HOPGATE_BINARY).parent_path(); }

TEST(CliInstall, LaysOutBinaryConfigAndUnit) {
  auto cmake = require_tool("cmake", "cmake");
  TempDir dest;
  SpawnOptions o;
  o.env["DESTDIR"] = dest.path().string();
  ChildProcess p({cmake, "--install", build_dir().string(), "--prefix", "/usr"}, o);
  auto st = p.wait(120s);
  ASSERT_TRUE(st && st->clean()) << p.output();
  auto root = dest.path();
  EXPECT_TRUE(fs::exists(root / "usr/bin/hopgate")) << p.output();
  EXPECT_TRUE(fs::exists(root / "etc/hopgate/hopgate.json")) << "the default config under /etc/hopgate";
  EXPECT_EQ(read_text_file(root / "etc/hopgate/hopgate.json"), read_text_file(src("config/hopgate.json")));
  EXPECT_TRUE(fs::exists(root / "usr/share/hopgate/hopgate.schema.json"));
  for (auto ex : {"tor-bridge.json", "policy-routing.json", "sidecar.json"})
    EXPECT_TRUE(fs::exists(root / "usr/share/doc/hopgate/examples" / ex)) << ex;
  auto unit_path = root / "usr/lib/systemd/system/hopgate.service";
  auto unit = read_text_file(unit_path);
  ASSERT_FALSE(unit.empty()) << p.output();
  EXPECT_EQ(unit.find("@HOPGATE"), std::string::npos) << "every placeholder filled in";
  EXPECT_NE(unit.find("\nExecStart=/usr/bin/hopgate --config /etc/hopgate/hopgate.json\n"), std::string::npos) << unit;
  for (auto line : {"Type=simple", "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
                    "KillSignal=SIGTERM", "ExecReload=/bin/kill -HUP $MAINPID"})
    EXPECT_NE(unit.find("\n" + std::string(line) + "\n"), std::string::npos) << line;
  // The installed binary accepts the installed config.
  auto check = run({(root / "usr/bin/hopgate").string(), "--check", "--config", (root / "etc/hopgate/hopgate.json").string()});
  EXPECT_EQ(check.code, 0) << check.out;

  // systemd's own checks, when systemd-analyze is here. The binary path is pointed at the installed
  // copy because verify checks that ExecStart exists.
  auto analyze = find_tool("systemd-analyze");
  if (!analyze) GTEST_SKIP() << "systemd-analyze not installed";
  std::string local = std::regex_replace(unit, std::regex("/usr/bin/hopgate"), (root / "usr/bin/hopgate").string());
  TempDir unit_dir;
  auto file = unit_dir.write_file("hopgate.service", local);
  auto verify = run({*analyze, "verify", file.string()});
  EXPECT_EQ(verify.code, 0) << verify.out;
  EXPECT_EQ(verify.out, "") << "systemd-analyze verify warns";
  auto security = run({*analyze, "security", "--offline=true", "--threshold=20", file.string()});
  EXPECT_EQ(security.code, 0) << "exposure above 2.0:\n" << security.out;
}

} // namespace
} // namespace hopgate::test
