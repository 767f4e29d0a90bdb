#pragma once
// Reading one message from an upstream hop with a pure decoder (codec/): the handshakes of the
// connectors and the second reply of an upstream BIND.
#include "hopgate/codec/codec_error.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/core/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace hopgate::upstream {

/// Reads from `s` into `buf` (which may already hold the message) until `decode(buf)` stops
/// asking for more; returns the bytes it consumed. More than `limit` bytes without a message, an
/// EOF or garbage from the hop are an upstream protocol error.
template <class Decode>
awaitable<std::size_t> read_hop_message(tcp::socket& s, std::vector<std::uint8_t>& buf, Decode decode, error_code& ec,
                                        std::size_t limit = 16 * 1024) {
  for (;;) {
    error_code dec;
    std::size_t n = buf.empty() ? 0 : decode(std::span<const std::uint8_t>(buf), dec);
    if (buf.empty()) dec = codec::CodecError::need_more;
    if (!dec) {
      ec = {};
      co_return n;
    }
    if (dec != codec::CodecError::need_more || buf.size() > limit) {
      ec = ProxyError::upstream_protocol_error;
      co_return 0;
    }
    std::array<std::uint8_t, 512> chunk;
    auto [rec, got] = co_await s.async_read_some(asio::buffer(chunk), use_nothrow);
    if (rec) {
      ec = (rec == asio::error::eof || rec == asio::error::connection_reset) ? error_code(ProxyError::upstream_protocol_error) : rec;
      co_return 0;
    }
    buf.insert(buf.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
  }
}

} // namespace hopgate::upstream
