#pragma once
// What the admin API may ask of the running gateway (implemented by Gateway).
#include "hopgate/config/loader.hpp"
#include "hopgate/core/asio.hpp"

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::admin {

struct ListenerStatus {
  std::string name;    ///< "http", "socks", "admin"
  std::string address; ///< bound "host:port" ([v6]:port)
  std::uint16_t port = 0;
};

/// Who asked for a config change (a label of hopgate_reloads_total).
enum class ChangeSource {
  signal,  ///< SIGHUP
  reload,  ///< POST /api/v1/reload
  routes,  ///< PUT /api/v1/routes
};
std::string_view to_string(ChangeSource s);

/// The outcome of a reload or config change. Nothing is applied unless `status` is applied.
struct ChangeResult {
  enum class Status {
    applied,     ///< the new config runs
    invalid,     ///< the document is not a valid config (errors carry JSON paths)
    conflict,    ///< the running generation is not the one the caller based its change on
    unavailable, ///< cannot change now: draining, or no config file to reload
    bind_failed, ///< valid, but a new listener address cannot be bound
  };
  Status status = Status::applied;
  std::vector<config::ConfigError> errors;
  std::uint64_t generation = 0; ///< the generation running after the call
  bool ok() const { return status == Status::applied; }
};

class Control {
public:
  virtual ~Control() = default;
  /// Bound listener addresses, in bind order.
  virtual std::vector<ListenerStatus> listeners() const = 0;
  /// Re-reads the config file; applies it only when valid. Thread-safe.
  virtual ChangeResult reload_from_file(ChangeSource source) = 0;
  /// Validates a whole config document and applies it only when valid and, when
  /// `expected_generation` is given, only if that generation is still the running one. Thread-safe.
  virtual ChangeResult apply(const nlohmann::json& doc, ChangeSource source,
                             std::optional<std::uint64_t> expected_generation = std::nullopt) = 0;
  /// The JSON document of the running config (as loaded, before redaction).
  virtual nlohmann::json config_document() const = 0;
  virtual std::string config_path() const = 0;
  virtual Clock::time_point started() const = 0;
  /// Listeners bound and config loaded, and not draining.
  virtual bool ready() const = 0;
  /// Health of one upstream (or group) for GET /api/v1/upstreams, as a JSON object, or null
  /// while nothing checks upstream health. The health checker plugs in here.
  virtual nlohmann::json upstream_health(std::string_view name) const = 0;
};

} // namespace hopgate::admin
