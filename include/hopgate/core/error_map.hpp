#pragma once
// The one table from errors to what each protocol tells the client (STYLE habit 4).
#include "hopgate/core/error.hpp"

#include <cstdint>

namespace hopgate {

/// Folds socket and resolver errors into the protocol-neutral ProxyError.
ProxyError classify(const boost::system::error_code& ec);

/// SOCKS5 REP byte for an error (0x00 never: success is not an error).
std::uint8_t socks5_reply_for(ProxyError e);
/// SOCKS4 CD byte: always 0x5B (SOCKS4 has one failure code that a proxy can send).
std::uint8_t socks4_reply_for(ProxyError e);
/// HTTP status for an error: 403 blocked/not allowed, 504 timeout, 502 otherwise, 503 over limit.
unsigned http_status_for(ProxyError e);
/// Maps a SOCKS5 failure reply received from an upstream back to a ProxyError.
ProxyError from_socks5_reply(std::uint8_t rep);

} // namespace hopgate
