#pragma once
// Reads a Config from JSON and validates it whole: every problem is reported with its JSON path
// ("/routes/3/via: unknown upstream \"tro\""); unknown keys are errors; nothing is half-applied.
#include "hopgate/config/config.hpp"

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hopgate::config {

struct ConfigError {
  std::string path;    ///< JSON pointer, "" for the document
  std::string message; ///< what is wrong, lowercase
  std::string to_string() const { return (path.empty() ? "/" : path) + ": " + message; }
};

struct LoadResult {
  std::optional<Config> config; ///< set only when errors is empty
  std::vector<ConfigError> errors;
  bool ok() const { return config.has_value(); }
};

LoadResult load_config(const nlohmann::json& doc);
/// Reads and parses the file; a read or syntax error is reported as one ConfigError.
LoadResult load_config_file(const std::string& path);
/// Parses an upstream URL (socks4://, socks4a://, socks5://, socks5h://, http://) with optional user:pass@.
std::optional<Hop> parse_hop_url(std::string_view url, std::string& error);
/// Parses "host:port" / "[v6]:port" into an endpoint (host must be an IP literal or "localhost").
std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view text, std::string& error);
/// A key as one token of a JSON pointer: "~" and "/" escaped (RFC 6901).
std::string escape_pointer(std::string_view key);
/// Parses "80" or "8000-8999".
std::optional<PortRange> parse_port_range(std::string_view text);

} // namespace hopgate::config
