// hopgate: the command line. Thin: parse flags and environment (hopgate/cli), build the config
// document, validate it with the one loader, then check, print, probe or run the Gateway.
#include "hopgate/cli/healthcheck.hpp"
#include "hopgate/cli/help.hpp"
#include "hopgate/cli/log_format.hpp"
#include "hopgate/cli/overrides.hpp"
#include "hopgate/cli/settings.hpp"
#include "hopgate/config/loader.hpp"
#include "hopgate/config/permissions.hpp"
#include "hopgate/frontend/limits.hpp"
#include "hopgate/gateway.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sstream>

namespace {

using namespace hopgate;

void print_effective(const config::Config& c) {
  using namespace hopgate::config;
  auto listener = [](const Listener* l) {
    if (!l) return;
    for (auto& ep : l->listen) {
      auto a = ep.address();
      std::cout << "listener " << l->name << " "
                << (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) << ":" << ep.port();
      if (l->name != to_string(l->kind)) std::cout << " kind=" << to_string(l->kind);
      if (l->protocols.size() > 1) std::cout << " (http+socks)";
      if (l->auth == AuthMode::password) std::cout << " auth=password";
      if (l->auth == AuthMode::optional) std::cout << " auth=optional";
      if (!l->token.empty()) std::cout << " token=set";
      std::cout << "\n";
    }
  };
  // The front ends first (http, socks, then the others by name), the admin API last.
  listener(c.listeners.http());
  listener(c.listeners.socks());
  for (auto& l : c.listeners.all)
    if (l.name != "http" && l.name != "socks" && l.kind != ListenerKind::admin) listener(&l);
  if (auto* admin = c.listeners.admin()) {
    listener(admin);
    // What the browser guard lets in (docs/admin-api.md, "Browsers").
    std::cout << "admin hosts: IP addresses, localhost";
    for (auto& h : admin->hosts) std::cout << ", " << h;
    std::cout << "\nadmin cors_origins:";
    if (admin->cors_origins.empty()) std::cout << " none (cross-site requests refused)";
    for (auto& o : admin->cors_origins) std::cout << " " << o;
    if (admin->private_network) std::cout << " (private_network)";
    std::cout << "\n";
  }
  for (auto& u : c.upstreams) {
    if (auto* h = std::get_if<Hop>(&u.kind)) std::cout << "upstream " << u.name << " " << h->display() << "\n";
    else if (auto* ch = std::get_if<Chain>(&u.kind)) {
      std::cout << "upstream " << u.name << " chain";
      for (auto& hop : ch->hops) std::cout << " " << hop;
      std::cout << "\n";
    } else {
      std::cout << "upstream " << u.name << " group";
      for (auto& m : std::get<Group>(u.kind).members) std::cout << " " << m;
      std::cout << "\n";
    }
  }
  for (auto& r : c.routes) std::cout << "route " << r.name << " -> " << r.via.display() << "\n";
  std::cout << "route default -> " << c.default_via.display() << "\n";
}

/// Reads a config file the way the loader does (comments allowed); errors as ConfigErrors.
std::optional<nlohmann::json> read_document(const std::string& path, std::vector<config::ConfigError>& errors) {
  std::ifstream in(path);
  if (!in) {
    errors.push_back({"", "cannot read config file " + path});
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str(), nullptr, true, true);
  } catch (const nlohmann::json::parse_error& e) {
    errors.push_back({"", std::string("JSON syntax error in ") + path + ": " + e.what()});
    return std::nullopt;
  }
}

/// "/etc/hopgate/hopgate.json + HOPGATE_UPSTREAM, --http" for messages.
std::string describe(const cli::ConfigSource& src, const cli::Settings& s) {
  std::string out = src.path.empty() ? "(" + src.why + ")" : src.path;
  auto sources = s.sources();
  std::string extra;
  for (auto& name : sources)
    if (name != "--config" && name != "HOPGATE_CONFIG") extra += (extra.empty() ? "" : ", ") + name;
  if (!extra.empty()) out += " + " + extra;
  return out;
}

void print_errors(const std::string& what, const std::vector<config::ConfigError>& errors) {
  std::cerr << "hopgate: invalid config " << what << ":\n";
  for (auto& e : errors) std::cerr << "  " << e.to_string() << "\n";
}

} // namespace

int main(int argc, char** argv) {
  auto parsed = cli::parse_args(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::cerr << "hopgate: " << parsed.error << " (see --help)\n";
    return 2;
  }
  const auto& cmd = parsed.command;
  if (cmd.action == cli::Action::help) {
    std::cout << cli::help_text();
    return 0;
  }
  if (cmd.action == cli::Action::version) {
    std::cout << "hopgate " << HOPGATE_VERSION << "\n";
    return 0;
  }

  auto settings = cli::merge_settings(cli::settings_from_environ(), cmd.settings);

  // A health check against a full URL needs no config: a broken config must not hide a live process.
  if (cmd.action == cli::Action::healthcheck && cmd.healthcheck_target.find("://") != std::string::npos) {
    std::string why;
    auto url = cli::parse_http_url(cmd.healthcheck_target, why);
    if (!url) {
      std::cerr << "hopgate: --healthcheck: " << why << "\n";
      return 2;
    }
    auto r = cli::run_healthcheck(*url, settings.admin_token ? settings.admin_token->value : "", std::chrono::seconds(5));
    (r.ok ? std::cout : std::cerr) << "healthcheck " << cmd.healthcheck_target << ": " << r.message << "\n";
    return r.ok ? 0 : 1;
  }

  auto source = cli::choose_config_source(settings, [](const std::string& p) { return std::filesystem::exists(p); });
  auto what = describe(source, settings);
  std::vector<config::ConfigError> errors;
  nlohmann::json base;
  if (source.path.empty()) base = cli::builtin_base();
  else if (auto doc = read_document(source.path, errors)) base = std::move(*doc);
  else {
    print_errors(what, errors);
    return 1;
  }

  auto overlay = cli::apply_settings(std::move(base), settings);
  if (cmd.action == cli::Action::print_config) std::cout << cli::printable(overlay.doc).dump(2) << "\n";
  if (!overlay.ok()) {
    print_errors(what, overlay.errors);
    return 1;
  }
  auto result = config::load_config(overlay.doc);
  if (!result.ok()) {
    print_errors(what, result.errors);
    return 1;
  }
  auto& cfg = *result.config;

  switch (cmd.action) {
  case cli::Action::print_config: return 0;
  case cli::Action::check:
    std::cout << "config " << what << " is valid\n";
    print_effective(cfg);
    return 0;
  case cli::Action::healthcheck: {
    std::string why;
    auto url = cli::healthcheck_url(cmd.healthcheck_target, &cfg, why);
    if (!url) {
      std::cerr << "hopgate: --healthcheck: " << why << "\n";
      return 1;
    }
    std::string token = cfg.listeners.admin() ? cfg.listeners.admin()->token : "";
    auto r = cli::run_healthcheck(*url, token, std::chrono::seconds(5));
    (r.ok ? std::cout : std::cerr) << "healthcheck http://" << url->host << ":" << url->port << url->target << ": "
                                   << r.message << "\n";
    return r.ok ? 0 : 1;
  }
  default: break;
  }

  auto logger = spdlog::stdout_logger_mt("hopgate");
  logger->set_formatter(cli::make_log_formatter(cfg.log.format));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(cfg.log.level));

  frontend::raise_fd_limit(); // the hard limit too when allowed (root); the Gateway then takes soft = hard
  config::warn_if_world_readable(source.path, cfg);
  hopgate::Gateway gateway(std::move(cfg), std::move(overlay.doc), source.path);
  // A reload (SIGHUP, POST /api/v1/reload) re-reads the file; lay the same flags and variables over
  // it again, or a reload would silently drop e.g. HOPGATE_UPSTREAM and send traffic direct.
  gateway.set_reload_overlay([settings](nlohmann::json doc, std::vector<config::ConfigError>& errors) -> std::optional<nlohmann::json> {
    auto o = cli::apply_settings(std::move(doc), settings);
    if (!o.ok()) {
      errors = std::move(o.errors);
      return std::nullopt;
    }
    return std::move(o.doc);
  });
  std::string error;
  if (!gateway.bind(error)) {
    spdlog::critical("{}", error);
    return 1;
  }
  spdlog::info("hopgate {} started with {}", HOPGATE_VERSION, what);
  return gateway.run();
}
