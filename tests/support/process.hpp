#pragma once
// A child process (fork/execvp) whose stdout and stderr go to a private log file.
// It is only ever signalled by its own PID; the destructor stops it.
#include "support/tempdir.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <sys/types.h>
#include <vector>

namespace hopgate::test {

using namespace std::chrono_literals;

struct SpawnOptions {
  /// Extra or overriding environment variables for the child.
  std::map<std::string, std::string> env;
  /// Environment variables removed in the child.
  std::vector<std::string> unset_env;
  /// Working directory of the child (empty: inherit).
  std::filesystem::path cwd;
};

/// A decoded waitpid() status.
struct ExitStatus {
  int raw = 0;
  bool exited() const;    ///< terminated by exit()/return
  int exit_code() const;  ///< valid when exited()
  bool signaled() const;  ///< killed by a signal
  int signal() const;     ///< valid when signaled()
  bool clean() const { return exited() && exit_code() == 0; }
  std::string describe() const; ///< "exit 0", "signal 9 (Killed)"
};

class ChildProcess {
public:
  /// Spawns argv[0] (searched in PATH) with the rest as arguments. Throws when fork/exec fails.
  explicit ChildProcess(std::vector<std::string> argv, SpawnOptions options = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::vector<std::string>& argv() const { return argv_; }
  std::string command_line() const;

  /// True until the child has exited (reaps it when it has).
  bool running();
  /// The exit status once the child has been reaped.
  std::optional<ExitStatus> exit_status() const { return status_; }

  /// Everything the child wrote to stdout and stderr so far.
  std::string output() const;
  const std::filesystem::path& log_path() const { return log_path_; }

  /// Waits until the output contains a match of `re` (searched anywhere in the text, multiline);
  /// returns the match groups (0: the whole match). nullopt on timeout or when the child exits first.
  std::optional<std::vector<std::string>> wait_for_output(const std::regex& re,
                                                          std::chrono::milliseconds timeout = 10s);
  /// Waits until the output contains `needle`.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout = 10s);

  /// Sends `sig` to the child's PID, waits up to `timeout` for it to exit, then sends SIGKILL.
  /// Returns the exit status (also when the child had already exited).
  ExitStatus stop(int sig = SIGTERM, std::chrono::milliseconds timeout = 10s);

  /// Waits for the child to exit on its own (no signal). nullopt on timeout.
  std::optional<ExitStatus> wait(std::chrono::milliseconds timeout);

private:
  std::vector<std::string> argv_;
  TempDir dir_{"hopgate-child"};
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

} // namespace hopgate::test
