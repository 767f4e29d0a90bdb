#include "support/hopgate_process.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace hopgate::test {

std::string hopgate_binary() {
  // HOPGATE_TEST_BINARY runs the suite against another build (release, asan) of the same sources.
  if (const char* other = std::getenv("HOPGATE_TEST_BINARY"); other && *other) return other;
  return HOPGATE_BINARY;
}

HopgateProcess::HopgateProcess(const nlohmann::json& config, std::vector<std::string> extra_args) {
  start(config, std::move(extra_args));
}

HopgateProcess::~HopgateProcess() {
  if (proc_ && proc_->running()) stop();
}

void HopgateProcess::start(const nlohmann::json& config, std::vector<std::string> extra_args) {
  if (proc_ && proc_->running()) throw std::logic_error("HopgateProcess::start: already running");
  config_ = config;
  bound_.clear();
  dir_ = std::make_unique<TempDir>("hopgate-config");
  auto file = dir_->write_file("hopgate.json", config.dump(2));

  std::vector<std::string> argv = {hopgate_binary(), "--config", file.string(), "--log-level", "debug"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<ChildProcess>(argv);

  // Expected announcements: one per listen address of each listener present in the config.
  std::map<std::string, size_t> expected;
  if (config.contains("listeners") && config["listeners"].is_object()) {
    for (auto& [name, l] : config["listeners"].items()) {
      size_t n = 1;
      if (l.is_object() && l.contains("listen") && l["listen"].is_array()) n = std::max<size_t>(1, l["listen"].size());
      expected[name] = n;
    }
  }

  static const std::regex line_re(R"((?:^|\s)listening (\S+) (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)\s*$)");
  auto deadline = std::chrono::steady_clock::now() + 15s;
  for (;;) {
    bool alive = proc_->running();
    std::string text = proc_->output();
    std::vector<BoundListener> found;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::smatch m;
      if (std::regex_search(line, m, line_re)) {
        std::string host = m[2].str();
        if (host.front() == '[') host = host.substr(1, host.size() - 2);
        found.push_back({m[1].str(), host, static_cast<std::uint16_t>(std::stoul(m[3].str()))});
      }
    }
    bool complete = true;
    for (auto& [name, n] : expected) {
      size_t c = 0;
      for (auto& b : found) c += (b.name == name);
      if (c < n) complete = false;
    }
    if (complete) {
      bound_ = std::move(found);
      return;
    }
    if (!alive || std::chrono::steady_clock::now() >= deadline) {
      std::string why = alive ? "did not announce all its listeners within 15 s"
                              : "exited (" + proc_->exit_status()->describe() + ") before announcing its listeners";
      if (alive) proc_->stop(SIGKILL);
      std::string msg = "hopgate " + why + "\ncommand: " + proc_->command_line() + "\nconfig: " + config.dump() +
                        "\n--- hopgate output ---\n" + text;
      throw std::runtime_error(msg);
    }
    std::this_thread::sleep_for(10ms);
  }
}

std::vector<BoundListener> HopgateProcess::bound(const std::string& name) const {
  std::vector<BoundListener> r;
  for (auto& b : bound_)
    if (b.name == name) r.push_back(b);
  return r;
}

std::uint16_t HopgateProcess::port(const std::string& name) const {
  auto b = bound(name);
  if (b.empty()) throw std::runtime_error("hopgate has no bound listener \"" + name + "\"");
  return b.front().port;
}

std::string HopgateProcess::address(const std::string& name) const {
  auto b = bound(name);
  if (b.empty()) throw std::runtime_error("hopgate has no bound listener \"" + name + "\"");
  auto& f = b.front();
  return (f.host.find(':') != std::string::npos ? "[" + f.host + "]" : f.host) + ":" + std::to_string(f.port);
}

std::string HopgateProcess::log() const { return proc_ ? proc_->output() : std::string(); }
bool HopgateProcess::running() { return proc_ && proc_->running(); }
pid_t HopgateProcess::pid() const { return proc_ ? proc_->pid() : -1; }

ExitStatus HopgateProcess::stop(std::chrono::milliseconds timeout) {
  if (!proc_) return ExitStatus{};
  bool was_running = proc_->running();
  ExitStatus st = proc_->stop(SIGTERM, timeout);
  EXPECT_TRUE(st.clean()) << "hopgate " << (was_running ? "stopped by SIGTERM" : "had already exited") << " with "
                          << st.describe() << " (expected exit 0)\n--- hopgate output (tail) ---\n"
                          << [&] {
                               std::string t = proc_->output();
                               return t.size() > 8000 ? "..." + t.substr(t.size() - 8000) : t;
                             }();
  return st;
}

} // namespace hopgate::test
