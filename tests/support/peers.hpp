#pragma once
// Real upstream proxies from Debian packages, each started on a free loopback port in the
// foreground and stopped by PID when the object dies.
#include "support/process.hpp"
#include "support/tempdir.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace hopgate::test {

struct Credentials {
  std::string user;
  std::string password;
};

/// Base: a ChildProcess plus the port it serves on, ready (accepting) when constructed.
class PeerProcess {
public:
  virtual ~PeerProcess() = default;
  std::uint16_t port() const { return port_; }
  /// "127.0.0.1:PORT"
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  ChildProcess& process() { return *proc_; }
  std::string log() const { return proc_ ? proc_->output() : std::string(); }
  bool running() { return proc_ && proc_->running(); }

protected:
  /// Starts argv (built by `make_argv(port)`) and waits until 127.0.0.1:port accepts; retries with
  /// another free port when the process dies at start (port taken meanwhile). Throws with the log.
  template <typename MakeArgv>
  void launch(const std::string& what, MakeArgv make_argv);

  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

/// microsocks (SOCKS5 only): `microsocks -i 127.0.0.1 -p PORT [-u USER -P PASS]`.
class Microsocks : public PeerProcess {
public:
  explicit Microsocks(std::optional<Credentials> auth = std::nullopt);
};

/// Dante's server (danted/sockd) with a generated config: no authentication, everything allowed,
/// loopback only; SOCKS4 and SOCKS5.
class Dante : public PeerProcess {
public:
  Dante();
  ~Dante() override;

private:
  TempDir dir_{"hopgate-dante"};
};

/// Tinyproxy (HTTP proxy, CONNECT to every port), optionally with Basic proxy authentication.
class Tinyproxy : public PeerProcess {
public:
  explicit Tinyproxy(std::optional<Credentials> auth = std::nullopt);
  ~Tinyproxy() override;

private:
  TempDir dir_{"hopgate-tinyproxy"};
};

} // namespace hopgate::test
