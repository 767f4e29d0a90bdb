#pragma once
// Connectors: the client side of each upstream protocol, run over a socket already connected
// to the hop, asking it to reach `next` (the next hop or the target).
#include "hopgate/codec/socks4.hpp"
#include "hopgate/codec/socks5.hpp"
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/core/target.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace hopgate::upstream {

struct HandshakeResult {
  error_code ec;
  TargetAddress bound;               ///< the hop's BND.ADDR / BND.PORT (SOCKS)
  std::vector<std::uint8_t> pending; ///< bytes read past the hop's reply
  std::string detail;                ///< e.g. "HTTP 403 Forbidden"
};

struct Credentials {
  std::string username;
  std::string password;
};

/// SOCKS4 / SOCKS4a request (`next` must be IPv4 for SOCKS4; a domain for 4a is sent as is).
awaitable<HandshakeResult> socks4_handshake(tcp::socket& s, const TargetAddress& next, const std::string& user_id,
                                            codec::socks4::Command command = codec::socks4::Command::connect);
/// SOCKS5 greeting, optional RFC 1929 auth, and request.
awaitable<HandshakeResult> socks5_handshake(tcp::socket& s, const TargetAddress& next, const Credentials* creds,
                                            codec::socks5::Command command = codec::socks5::Command::connect);
/// HTTP CONNECT with optional Basic auth; any 2xx is success.
awaitable<HandshakeResult> http_connect_handshake(tcp::socket& s, const TargetAddress& next, const Credentials* creds);

} // namespace hopgate::upstream
