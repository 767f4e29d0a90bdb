#pragma once
// `hopgate --healthcheck`: a tiny HTTP GET against the admin API, so the container image needs no
// curl. Exit status 0 when the answer is 2xx, 1 otherwise.
#include "hopgate/config/config.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hopgate::cli {

/// http://HOST[:PORT][/PATH] (no https, no credentials).
struct HttpUrl {
  std::string host; ///< name or IP literal, without brackets
  std::uint16_t port = 80;
  std::string target = "/"; ///< path and query
};

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& error);

/// The URL --healthcheck asks: `target` itself when it is a URL; else the admin listener's first
/// address (0.0.0.0 and :: become loopback) with `target` as the path ("" means /healthz).
std::optional<HttpUrl> healthcheck_url(std::string_view target, const config::Config* cfg, std::string& error);

struct HealthResult {
  bool ok = false;     ///< status 2xx
  unsigned status = 0; ///< HTTP status, 0 when none came
  std::string message; ///< "200 {"status":"ok"}" or what went wrong
};

/// GET url with `Authorization: Bearer token` when token is not empty.
HealthResult run_healthcheck(const HttpUrl& url, const std::string& token, std::chrono::milliseconds timeout);

} // namespace hopgate::cli
