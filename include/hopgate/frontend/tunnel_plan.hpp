#pragma once
// What a front end's handshake hands back to the session when a tunnel is left to relay.
#include "hopgate/core/asio.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hopgate::frontend {

/// A CONNECT (SOCKS or HTTP) that succeeded and was answered: what is left to relay. The
/// handshake hands this back instead of relaying inside its own coroutine frames, so that a
/// long-lived tunnel does not keep the handshake's frames (kilobytes) alive for its whole life.
struct TunnelPlan {
  tcp::socket upstream;
  std::vector<std::uint8_t> to_upstream;         ///< client bytes read beyond the request
  std::vector<std::uint8_t> to_client;           ///< upstream bytes read beyond its handshake
  std::vector<std::shared_ptr<void>> holds;      ///< keeps the hops' active-connection counts up
  Clock::duration idle{};
  std::string log_note; ///< added to the access-log line's result, e.g. " (3 requests)" for a CONNECT after others
};

} // namespace hopgate::frontend
