#pragma once
// What the admin API may ask of the running gateway (implemented by Gateway).
#include "hopgate/config/loader.hpp"
#include "hopgate/core/asio.hpp"

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace hopgate::admin {

struct ListenerStatus {
  std::string name;    ///< "http", "socks", "admin"
  std::string address; ///< bound "host:port" ([v6]:port)
};

class Control {
public:
  virtual ~Control() = default;
  virtual std::vector<ListenerStatus> listeners() const = 0;
  /// Re-reads the config file; applies it only when valid. Thread-safe.
  virtual config::LoadResult reload_from_file() = 0;
  /// Validates a whole config document and applies it only when valid. Thread-safe.
  virtual config::LoadResult apply(const nlohmann::json& doc) = 0;
  /// The JSON document of the running config (as loaded, before redaction).
  virtual nlohmann::json config_document() const = 0;
  virtual std::string config_path() const = 0;
  virtual Clock::time_point started() const = 0;
  /// Listeners bound and config loaded, and not draining.
  virtual bool ready() const = 0;
};

} // namespace hopgate::admin
