#pragma once
// The real hopgate binary under test, started from a JSON config on ephemeral loopback ports.
#include "support/process.hpp"
#include "support/tempdir.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hopgate::test {

/// Path of the hopgate binary built with the tests (or $HOPGATE_TEST_BINARY when set).
std::string hopgate_binary();

/// One bound listener as announced by hopgate ("listening socks 127.0.0.1:40123").
struct BoundListener {
  std::string name; ///< socks, http, admin
  std::string host; ///< 127.0.0.1 or ::1 (no brackets)
  std::uint16_t port = 0;
};

class HopgateProcess {
public:
  HopgateProcess() = default;
  /// Starts at construction (see start()).
  explicit HopgateProcess(const nlohmann::json& config, std::vector<std::string> extra_args = {});
  /// Stops it (stop(), which also checks the exit) if it is still running.
  ~HopgateProcess();
  HopgateProcess(const HopgateProcess&) = delete;
  HopgateProcess& operator=(const HopgateProcess&) = delete;

  /// Writes `config` to a temp file, runs `hopgate --config FILE --log-level debug EXTRA...` and waits
  /// (up to 15 s) until it has printed a `listening NAME HOST:PORT` line for every listen address of
  /// every listener in the config. Throws (with the log) when it exits or does not get there.
  void start(const nlohmann::json& config, std::vector<std::string> extra_args = {});

  /// The port of the first bound address of listener `name` ("socks", "http", "admin").
  /// Throws when there is no such listener.
  std::uint16_t port(const std::string& name) const;
  /// All bound addresses of listener `name`, in announce order.
  std::vector<BoundListener> bound(const std::string& name) const;
  /// "127.0.0.1:PORT" (or "[::1]:PORT") of the first bound address of `name`.
  std::string address(const std::string& name) const;

  /// Everything hopgate printed so far (stdout and stderr).
  std::string log() const;
  bool running();
  pid_t pid() const;
  const nlohmann::json& config() const { return config_; }
  ChildProcess& process() { return *proc_; }

  /// SIGTERM, waits up to `timeout`, and EXPECTs a clean exit (status 0); returns the status.
  ExitStatus stop(std::chrono::milliseconds timeout = 15s);

private:
  nlohmann::json config_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildProcess> proc_;
  std::vector<BoundListener> bound_;
};

} // namespace hopgate::test
