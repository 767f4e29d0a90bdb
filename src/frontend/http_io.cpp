#include "hopgate/frontend/http_io.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace hopgate::frontend::http_io {

std::span<const std::uint8_t> bytes_of(const beast::flat_buffer& b) {
  return {static_cast<const std::uint8_t*>(b.data().data()), b.size()};
}

awaitable<error_code> read_more(tcp::socket& s, beast::flat_buffer& buf, Clock::duration limit, std::size_t size,
                                bool quick_ack) {
  if (limit <= Clock::duration::zero()) co_return asio::error::timed_out;
  if (quick_ack) {
    int one = 1; // sends the pending ACK now; Linux leaves quick-ACK mode on its own, so each time
    ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  }
  auto space = buf.prepare(size);
  auto [ec, n] = co_await with_deadline(s.async_read_some(space, use_nothrow), s, limit);
  buf.commit(n);
  co_return ec;
}

std::string_view reason_of(const bhttp::response_header<bhttp::basic_fields<FieldAllocator>>& res, unsigned status) {
  if (res.reason().empty()) return hc::reason_phrase(status);
  return res.reason();
}

} // namespace hopgate::frontend::http_io
