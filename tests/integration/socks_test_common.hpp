#pragma once
// Shared pieces of the SOCKS front-end integration tests.
#include "support/hopgate_process.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace hopgate::test {

/// A SOCKS-only hopgate on 127.0.0.1:0, direct routing, user alice/secret.
/// The handshake timeout is long so that a connection closed by hopgate within a test's wait was
/// closed because of what the client sent, not because a timer fired.
inline nlohmann::json socks_only_config(const std::string& auth = "none") {
  auto cfg = nlohmann::json::parse(R"({
    "listeners": { "socks": { "listen": ["127.0.0.1:0"] } },
    "users": [ { "name": "alice", "password": "secret" } ],
    "routes": [],
    "default": { "via": "direct" },
    "timeouts": { "handshake": 120 }
  })");
  cfg["listeners"]["socks"]["auth"] = auth;
  return cfg;
}

/// "127.0.0.1:PORT" of hopgate's SOCKS listener, for curl's --socks* options.
inline std::string socks_addr(const HopgateProcess& h) { return "127.0.0.1:" + std::to_string(h.port("socks")); }

} // namespace hopgate::test
