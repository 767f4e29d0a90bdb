#pragma once
// Driving Beast's HTTP parsers by hand over a tcp::socket: every read has a size and a
// deadline, every write goes out with one sendmsg when the socket takes it. The HTTP front end
// (http_frontend.cpp, http_exchange.cpp) is built on these; they know nothing of proxying.
#include "hopgate/codec/http_rewrite.hpp"
#include "hopgate/core/asio.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <memory_resource>
#include <optional>
#include <span>

namespace hopgate::frontend::http_io {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace hc = codec::http;

constexpr std::size_t head_read = 16 * 1024;   ///< bytes asked of one socket read while a head is awaited
constexpr std::size_t body_chunk = 64 * 1024;  ///< bytes of body moved per step (and asked of one read)

/// Beast's field list takes one allocation per field; here they come from the connection's
/// FieldArena instead.
using FieldAllocator = std::pmr::polymorphic_allocator<char>;
template <bool isRequest, class Body> using Parser = bhttp::parser<isRequest, Body, FieldAllocator>;
template <class Body> using RequestParser = Parser<true, Body>;
template <class Body> using ResponseParser = Parser<false, Body>;

/// The memory for the parsed header fields of one request and its responses: a block kept by
/// the connection while it is busy, given back in one go when the next request starts (no
/// allocation and no free per field), and dropped while the connection idles.
class FieldArena {
public:
  /// A new arena for the next request; whatever used the last one must be gone.
  FieldAllocator fresh() {
    resource_.reset();
    if (!block_) block_ = std::make_unique_for_overwrite<std::byte[]>(block_size);
    resource_.emplace(block_.get(), block_size, std::pmr::new_delete_resource());
    return FieldAllocator(&*resource_);
  }
  /// The current request's arena (fresh() was called for it).
  FieldAllocator current() { return FieldAllocator(&*resource_); }
  void release() {
    resource_.reset();
    block_.reset();
  }

private:
  static constexpr std::size_t block_size = 4096; ///< a typical request's and response's fields (larger ones go on in heap chunks)
  std::unique_ptr<std::byte[]> block_;
  std::optional<std::pmr::monotonic_buffer_resource> resource_;
};

/// A parser whose fields live in `alloc`'s arena.
template <class P> P make_parser(FieldAllocator alloc) {
  return P(std::piecewise_construct, std::make_tuple(), std::make_tuple(alloc));
}

std::span<const std::uint8_t> bytes_of(const beast::flat_buffer& b);

/// Reads some bytes into `buf` within `limit`; asio::error::timed_out when it passes.
/// `quick_ack`: part of a message is in and the rest is awaited, so acknowledge what came at
/// once. Upstreams that write a response in pieces without TCP_NODELAY (microsocks relays in
/// 1 KiB writes) hold each piece back until the one before is acknowledged, and a delayed ACK
/// would add 40 ms to every response. (Set only then: a response that came whole needs no
/// extra system call.)
awaitable<error_code> read_more(tcp::socket& s, beast::flat_buffer& buf, Clock::duration limit, std::size_t size,
                                bool quick_ack = false);

/// Writes all of `buffers` within `limit` (a peer that stops reading for that long is gone).
/// Most writes fit in the socket's send buffer: one sendmsg that does not wait does them, with
/// no timer and no trip through the reactor. Only what is left waits, under the deadline.
template <class Buffers> awaitable<error_code> write_all(tcp::socket& s, const Buffers& buffers, Clock::duration limit) {
  std::array<iovec, 8> iov;
  std::size_t parts = 0;
  std::size_t total = 0;
  bool all_in = true;
  for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
    asio::const_buffer b(*it);
    if (b.size() == 0) continue;
    if (parts == iov.size()) {
      all_in = false;
      break;
    }
    iov[parts++] = {const_cast<void*>(b.data()), b.size()};
    total += b.size();
  }
  std::size_t done = 0;
  if (all_in) {
    if (total == 0) co_return error_code{};
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = parts;
    ssize_t sent = ::sendmsg(s.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0 && !retry_later(errno))
      co_return error_code(errno, asio::error::get_system_category());
    if (sent > 0) done = static_cast<std::size_t>(sent);
    if (done == total) co_return error_code{};
  }
  beast::buffers_suffix<Buffers> rest(buffers);
  rest.consume(done);
  auto [ec, n] = co_await with_deadline(asio::async_write(s, rest, use_nothrow), s, limit);
  (void)n;
  co_return ec;
}

enum class HeadResult { ok, closed, timeout, too_large, bad, failed };

/// Reads one message head into `p`. `closed`: EOF before any byte of it (`*got_bytes` false);
/// `failed`: a socket error; `bad` / `too_large`: the bytes are not a head we accept.
template <bool isRequest>
awaitable<HeadResult> read_head(tcp::socket& s, beast::flat_buffer& in, Parser<isRequest, bhttp::empty_body>& p,
                                Clock::duration limit, error_code& ec, bool quick_ack = false) {
  auto deadline = Clock::now() + limit;
  for (;;) {
    if (in.size() > 0) {
      auto used = p.put(in.data(), ec);
      in.consume(used);
      if (!ec && p.is_header_done()) co_return HeadResult::ok;
      if (ec == bhttp::error::header_limit) co_return HeadResult::too_large;
      if (ec && ec != bhttp::error::need_more) co_return HeadResult::bad;
      if (used > 0) continue;
    }
    bool had_bytes = in.size() > 0 || p.got_some();
    ec = co_await read_more(s, in, deadline - Clock::now(), head_read, quick_ack && had_bytes);
    if (ec == asio::error::timed_out) co_return HeadResult::timeout;
    if (ec == asio::error::eof) co_return had_bytes ? HeadResult::bad : HeadResult::closed;
    if (ec) co_return had_bytes ? HeadResult::failed : HeadResult::closed;
  }
}

/// Pulls decoded body bytes out of a buffer_body parser: up to `cap` bytes into `out`.
/// Returns the count, 0 when the body is complete (ec clear) or on error (ec set).
template <bool isRequest>
awaitable<std::size_t> read_body(tcp::socket& s, beast::flat_buffer& in, Parser<isRequest, bhttp::buffer_body>& p,
                                 char* out, std::size_t cap, Clock::duration idle, error_code& ec, bool quick_ack = false) {
  ec = {};
  for (;;) {
    if (p.is_done()) co_return 0;
    auto& body = p.get().body();
    body.data = out;
    body.size = cap;
    body.more = true;
    std::size_t used = 0;
    if (in.size() > 0) {
      error_code pec;
      used = p.put(in.data(), pec);
      in.consume(used);
      if (pec == bhttp::error::need_buffer || pec == bhttp::error::need_more) pec = {};
      if (pec) {
        ec = pec;
        co_return 0;
      }
      if (auto got = cap - body.size; got > 0) co_return got;
      if (p.is_done()) co_return 0;
      if (used > 0) continue; // chunk framing consumed, no data yet
    }
    auto rec = co_await read_more(s, in, idle, body_chunk, quick_ack);
    if (rec == asio::error::eof) {
      // Read-until-close bodies end here; a short Content-Length or chunked body is an error.
      p.put_eof(ec);
      co_return 0;
    }
    if (rec) {
      ec = rec;
      co_return 0;
    }
  }
}

/// A body buffer no larger than the body (most bodies are small; no need for 64 KiB each).
template <bool isRequest> std::size_t body_buffer_size(const Parser<isRequest, bhttp::buffer_body>& p) {
  auto left = p.content_length_remaining();
  if (!left) return body_chunk;
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(*left, 1, body_chunk));
}

/// Points `section` at the fields of the parsed message `m` (views of the parser's text: the
/// rewrite edits the list, not copies of the fields).
template <bool isRequest, class Body, class Fields>
void view_fields(const bhttp::message<isRequest, Body, Fields>& m, hc::HeaderSection& section) {
  section.clear();
  for (const auto& f : m) section.fields.push_back({f.name_string(), f.value()});
}

/// The response's own reason phrase, or the standard one for `status`.
std::string_view reason_of(const bhttp::response_header<bhttp::basic_fields<FieldAllocator>>& res, unsigned status);

} // namespace hopgate::frontend::http_io
