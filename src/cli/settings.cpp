// Flag and environment parsing. Kept free of I/O (except settings_from_environ) so that the unit
// tests can check every flag and variable, and the precedence between them, without a process.
#include "hopgate/cli/settings.hpp"

#include <cstdlib>

namespace hopgate::cli {

namespace {

/// A flag that takes a value, and the Settings field it fills.
struct ValueFlag {
  std::string_view name;
  std::optional<Setting> Settings::*field;
};

constexpr ValueFlag value_flags[] = {
    {"--config", &Settings::config},       {"--upstream", &Settings::upstream}, {"--http", &Settings::http},
    {"--socks", &Settings::socks},         {"--admin", &Settings::admin},       {"--log-level", &Settings::log_level},
    {"--log-format", &Settings::log_format},
};

struct EnvVar {
  std::string_view name;
  std::optional<Setting> Settings::*field;
};

constexpr EnvVar env_vars[] = {
    {"HOPGATE_CONFIG", &Settings::config},         {"HOPGATE_UPSTREAM", &Settings::upstream},
    {"HOPGATE_HTTP", &Settings::http},             {"HOPGATE_SOCKS", &Settings::socks},
    {"HOPGATE_ADMIN", &Settings::admin},           {"HOPGATE_ADMIN_TOKEN", &Settings::admin_token},
    {"HOPGATE_LOG_LEVEL", &Settings::log_level},   {"HOPGATE_LOG_FORMAT", &Settings::log_format},
};

constexpr std::optional<Setting> Settings::*all_fields[] = {
    &Settings::config, &Settings::upstream,  &Settings::http,      &Settings::socks,
    &Settings::admin,  &Settings::admin_token, &Settings::log_level, &Settings::log_format,
};

} // namespace

std::vector<std::string> Settings::sources() const {
  std::vector<std::string> out;
  for (auto field : all_fields)
    if (auto& v = this->*field) out.push_back(v->source);
  for (auto& r : routes) out.push_back(r.source);
  return out;
}

const std::vector<std::string_view>& known_environment() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (auto& e : env_vars) v.push_back(e.name);
    return v;
  }();
  return names;
}

ParseResult parse_args(const std::vector<std::string>& args) {
  ParseResult r;
  auto& cmd = r.command;
  std::optional<Action> chosen; // --check, --print-config, --healthcheck exclude each other
  bool help = false, version = false;
  auto choose = [&](Action a, std::string_view flag) {
    if (chosen && *chosen != a) {
      r.error = std::string(flag) + " cannot be combined with --check, --print-config or --healthcheck";
      return false;
    }
    chosen = a;
    return true;
  };
  for (std::size_t i = 0; i < args.size() && r.ok(); ++i) {
    const std::string& a = args[i];
    std::string name = a, inline_value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        name = a.substr(0, eq);
        inline_value = a.substr(eq + 1);
        has_inline = true;
      }
    }
    if (name == "-c") name = "--config";
    // Takes the flag's value: "--flag=VALUE" or the next argument.
    auto value = [&](std::string& out) {
      if (has_inline) {
        out = inline_value;
        return true;
      }
      if (i + 1 >= args.size()) {
        r.error = name + " needs a value";
        return false;
      }
      out = args[++i];
      return true;
    };

    bool matched = false;
    for (auto& f : value_flags) {
      if (name != f.name) continue;
      matched = true;
      std::string v;
      if (value(v)) {
        if (v.empty()) r.error = name + " needs a non-empty value";
        else cmd.settings.*f.field = Setting{v, name};
      }
    }
    if (matched) continue;
    if (name == "--route") {
      std::string v;
      if (value(v)) cmd.settings.routes.push_back({v, "--route " + std::to_string(cmd.settings.routes.size() + 1)});
    } else if (name == "--check" && !has_inline) {
      choose(Action::check, name);
    } else if (name == "--print-config" && !has_inline) {
      choose(Action::print_config, name);
    } else if (name == "--healthcheck") {
      if (!choose(Action::healthcheck, name)) break;
      // The target is optional: take the next argument only when it looks like one.
      if (has_inline) cmd.healthcheck_target = inline_value;
      else if (i + 1 < args.size() && (args[i + 1].rfind("/", 0) == 0 || args[i + 1].find("://") != std::string::npos))
        cmd.healthcheck_target = args[++i];
    } else if ((name == "--help" || name == "-h") && !has_inline) {
      help = true;
    } else if ((name == "--version" || name == "-V") && !has_inline) {
      version = true;
    } else if (has_inline) {
      r.error = name + " takes no value";
    } else {
      r.error = "unknown argument \"" + a + "\"";
    }
  }
  // --help and --version answer even next to other flags (but not next to a broken one).
  if (r.ok()) {
    if (help) cmd.action = Action::help;
    else if (version) cmd.action = Action::version;
    else if (chosen) cmd.action = *chosen;
  }
  return r;
}

Settings settings_from_env(const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  Settings s;
  for (auto& e : env_vars) {
    std::string name(e.name);
    auto v = lookup(name);
    if (v && !v->empty()) s.*e.field = Setting{*v, name};
  }
  return s;
}

Settings settings_from_environ() {
  return settings_from_env([](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  });
}

Settings merge_settings(const Settings& env, const Settings& flags) {
  Settings out = env;
  for (auto field : all_fields)
    if (flags.*field) out.*field = flags.*field;
  out.routes = flags.routes;
  return out;
}

} // namespace hopgate::cli
