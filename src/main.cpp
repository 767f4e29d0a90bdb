// hopgate: the command line. Thin: parse flags, load and validate the config, run the Gateway.
#include "hopgate/config/loader.hpp"
#include "hopgate/gateway.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace {

constexpr const char* usage = R"(hopgate - translating HTTP <-> SOCKS proxy gateway

Usage: hopgate [--config FILE] [--check] [--log-level LEVEL] [--version] [--help]

  --config FILE      config file (default: config/hopgate.json, then /etc/hopgate/hopgate.json)
  --check            validate the config, print the effective listeners and routes, exit 0/1
  --log-level LEVEL  trace, debug, info, warn, error, critical, off (overrides /log/level)
  --version          print the version and exit
  --help             this text

Signals: SIGTERM/SIGINT drain (stop accepting, let open tunnels finish within
/timeouts/shutdown_grace, then exit 0); SIGHUP reloads the config file.
)";

std::string default_config_path() {
  for (const char* p : {"config/hopgate.json", "/etc/hopgate/hopgate.json"})
    if (std::filesystem::exists(p)) return p;
  return "config/hopgate.json";
}

void print_effective(const hopgate::config::Config& c) {
  using namespace hopgate::config;
  auto listener = [](const char* name, const std::optional<Listener>& l) {
    if (!l) return;
    for (auto& ep : l->listen) {
      auto a = ep.address();
      std::cout << "listener " << name << " "
                << (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) << ":" << ep.port();
      if (l->protocols.size() > 1) std::cout << " (http+socks)";
      if (l->auth == AuthMode::password) std::cout << " auth=password";
      if (l->auth == AuthMode::optional) std::cout << " auth=optional";
      std::cout << "\n";
    }
  };
  listener("http", c.listeners.http);
  listener("socks", c.listeners.socks);
  listener("admin", c.listeners.admin);
  for (auto& u : c.upstreams) {
    if (auto* h = std::get_if<Hop>(&u.kind)) std::cout << "upstream " << u.name << " " << h->display() << "\n";
    else {
      std::cout << "upstream " << u.name << " group";
      for (auto& m : std::get<Group>(u.kind).members) std::cout << " " << m;
      std::cout << "\n";
    }
  }
  for (auto& r : c.routes) std::cout << "route " << r.name << " -> " << r.via.display() << "\n";
  std::cout << "route default -> " << c.default_via.display() << "\n";
}

} // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::string log_level;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "hopgate: " << flag << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config" || a == "-c") config_path = value("--config");
    else if (a.rfind("--config=", 0) == 0) config_path = a.substr(9);
    else if (a == "--check") check = true;
    else if (a == "--log-level") log_level = value("--log-level");
    else if (a.rfind("--log-level=", 0) == 0) log_level = a.substr(12);
    else if (a == "--version" || a == "-V") {
      std::cout << "hopgate " << HOPGATE_VERSION << "\n";
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::cout << usage;
      return 0;
    } else {
      std::cerr << "hopgate: unknown argument \"" << a << "\" (see --help)\n";
      return 2;
    }
  }
  if (config_path.empty()) config_path = default_config_path();

  auto logger = spdlog::stdout_logger_mt("hopgate");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);

  auto result = hopgate::config::load_config_file(config_path);
  if (!result.ok()) {
    std::cerr << "hopgate: invalid config " << config_path << ":\n";
    for (auto& e : result.errors) std::cerr << "  " << e.to_string() << "\n";
    return 1;
  }
  auto& cfg = *result.config;
  if (!log_level.empty()) cfg.log.level = log_level;
  auto level = spdlog::level::from_str(cfg.log.level);
  if (level == spdlog::level::off && cfg.log.level != "off") {
    std::cerr << "hopgate: unknown log level \"" << cfg.log.level << "\"\n";
    return 2;
  }
  spdlog::set_level(level);

  if (check) {
    std::cout << "config " << config_path << " is valid\n";
    print_effective(cfg);
    return 0;
  }

  nlohmann::json doc;
  {
    std::ifstream in(config_path);
    doc = nlohmann::json::parse(in, nullptr, false, true);
  }
  hopgate::Gateway gateway(std::move(cfg), std::move(doc), config_path);
  std::string error;
  if (!gateway.bind(error)) {
    spdlog::critical("{}", error);
    return 1;
  }
  spdlog::info("hopgate {} started with {}", HOPGATE_VERSION, config_path);
  return gateway.run();
}
