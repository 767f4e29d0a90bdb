#pragma once
// The command line and the HOPGATE_* environment as plain values, parsed by pure functions so that
// tests can drive them without a process. Precedence: flags > environment > config file.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::cli {

/// One value and where it came from ("--http", "HOPGATE_HTTP"), for error messages.
struct Setting {
  std::string value;
  std::string source;
  friend bool operator==(const Setting&, const Setting&) = default;
};

/// What flags or the environment say about the config; unset fields leave the file's keys alone.
struct Settings {
  std::optional<Setting> config;      ///< --config / HOPGATE_CONFIG: the config file
  std::optional<Setting> upstream;    ///< --upstream / HOPGATE_UPSTREAM: upstream "upstream", made the default
  std::optional<Setting> http;        ///< --http / HOPGATE_HTTP: listeners.http.listen ("off" removes it)
  std::optional<Setting> socks;       ///< --socks / HOPGATE_SOCKS: listeners.socks.listen ("off" removes it)
  std::optional<Setting> admin;       ///< --admin / HOPGATE_ADMIN: listeners.admin.listen ("off" removes it)
  std::optional<Setting> admin_token; ///< HOPGATE_ADMIN_TOKEN only (a flag would show in ps)
  std::optional<Setting> log_level;   ///< --log-level / HOPGATE_LOG_LEVEL: log.level
  std::optional<Setting> log_format;  ///< --log-format / HOPGATE_LOG_FORMAT: log.format
  std::vector<Setting> routes;        ///< --route MATCH=ACTION, in command-line order (flags only)

  /// True when the settings describe a whole config without a file (quick mode).
  bool quick() const { return upstream.has_value() || !routes.empty(); }
  /// The sources of every set field, in a stable order ("HOPGATE_UPSTREAM", "--http", ...).
  std::vector<std::string> sources() const;
};

/// What the invocation asks for.
enum class Action { run, check, print_config, healthcheck, version, help };

struct CommandLine {
  Action action = Action::run;
  Settings settings;
  std::string healthcheck_target; ///< --healthcheck [URL|PATH]: "" (admin /healthz), "/path", or a URL
};

struct ParseResult {
  CommandLine command;
  std::string error; ///< non-empty: a usage error (exit status 2)
  bool ok() const { return error.empty(); }
};

/// Parses argv[1..]; `--flag VALUE` and `--flag=VALUE` both work.
ParseResult parse_args(const std::vector<std::string>& args);

/// The environment variables hopgate reads, in the order --help lists them.
const std::vector<std::string_view>& known_environment();

/// Reads the HOPGATE_* variables through `lookup` (nullopt: unset). An empty value counts as unset.
Settings settings_from_env(const std::function<std::optional<std::string>(const std::string&)>& lookup);
/// settings_from_env over the process environment.
Settings settings_from_environ();

/// Flags win over the environment field by field; routes come from flags only.
Settings merge_settings(const Settings& env, const Settings& flags);

} // namespace hopgate::cli
