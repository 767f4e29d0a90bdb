#pragma once
// Running the real curl client. Every call adds -q (no .curlrc), --silent --show-error and
// --max-time, and clears the *_proxy environment variables so only the test's proxy is used.
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace hopgate::test {

using namespace std::chrono_literals;

struct CurlResult {
  int exit_code = -1;      ///< curl's exit code (0: success); -1 when it was killed or did not exit
  std::string out;         ///< stdout (the body unless -o is used)
  std::string err;         ///< stderr
  std::string command;     ///< the command line, for messages
  bool ok() const { return exit_code == 0; }
  /// "curl ... -> exit 7: <stderr>" for assertion messages.
  std::string describe() const;
};

/// Runs curl with `args`; kills it (by PID) if it is still running `timeout` plus a grace period
/// after start. Fails the test (throws) when curl is not installed.
CurlResult run_curl(const std::vector<std::string>& args, std::chrono::seconds timeout = 30s);

/// Like run_curl but stdout is handed to `on_body` in pieces as it arrives instead of being kept
/// (CurlResult::out stays empty); for large downloads.
CurlResult run_curl_stream(const std::vector<std::string>& args, std::chrono::seconds timeout,
                           const std::function<void(std::span<const std::uint8_t>)>& on_body);

} // namespace hopgate::test
