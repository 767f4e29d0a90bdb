#include "support/peers.hpp"

#include "support/net.hpp"
#include "support/tools.hpp"

#include <stdexcept>
#include <thread>

namespace hopgate::test {

template <typename MakeArgv>
void PeerProcess::launch(const std::string& what, MakeArgv make_argv) {
  std::string last_log;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_tcp_port();
    proc_ = std::make_unique<ChildProcess>(make_argv(port_));
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline && proc_->running()) {
      if (try_connect_tcp("127.0.0.1", port_, 1s)) return;
      std::this_thread::sleep_for(20ms);
    }
    bool alive = proc_->running();
    last_log = proc_->output();
    proc_->stop(SIGTERM, 2s);
    if (alive) break; // running but not accepting: retrying will not help
  }
  throw std::runtime_error(what + " did not start accepting on 127.0.0.1:" + std::to_string(port_) +
                           "\n--- output ---\n" + last_log);
}

Microsocks::Microsocks(std::optional<Credentials> auth) {
  std::string bin = require_tool("microsocks", "microsocks");
  launch("microsocks", [&](std::uint16_t port) {
    std::vector<std::string> argv = {bin, "-i", "127.0.0.1", "-p", std::to_string(port)};
    if (auth) {
      argv.insert(argv.end(), {"-u", auth->user, "-P", auth->password});
    }
    return argv;
  });
}

Dante::Dante() {
  // Debian installs Dante's server as danted; upstream calls it sockd.
  std::string bin = require_tool(std::vector<std::string>{"danted", "sockd"}, "dante-server");
  launch("dante (" + bin + ")", [&](std::uint16_t port) {
    std::string conf = "logoutput: stderr\n"
                       "internal: 127.0.0.1 port = " + std::to_string(port) + "\n"
                       "external: 127.0.0.1\n"
                       "clientmethod: none\n"
                       "socksmethod: none\n"
                       "client pass { from: 0/0 to: 0/0 }\n"
                       "socks pass { from: 0/0 to: 0/0 }\n";
    auto file = dir_.write_file("danted.conf", conf);
    // Foreground is the default (-D would detach); -N 1: one main server process.
    return std::vector<std::string>{bin, "-f", file.string(), "-N", "1"};
  });
}

// Stop the process before its config directory goes away.
Dante::~Dante() {
  if (proc_) proc_->stop(SIGTERM, 5s);
}
Tinyproxy::~Tinyproxy() {
  if (proc_) proc_->stop(SIGTERM, 5s);
}

Tinyproxy::Tinyproxy(std::optional<Credentials> auth) {
  std::string bin = require_tool("tinyproxy", "tinyproxy");
  launch("tinyproxy", [&](std::uint16_t port) {
    // No User/Group lines: running as root it warns and stays root. No ConnectPort: CONNECT to any port.
    std::string conf = "Port " + std::to_string(port) + "\n"
                       "Listen 127.0.0.1\n"
                       "Allow 127.0.0.1\n"
                       "MaxClients 200\n"
                       "Timeout 600\n"
                       "LogLevel Info\n";
    if (auth) conf += "BasicAuth " + auth->user + " " + auth->password + "\n";
    auto file = dir_.write_file("tinyproxy.conf", conf);
    return std::vector<std::string>{bin, "-d", "-c", file.string()};
  });
}

} // namespace hopgate::test
