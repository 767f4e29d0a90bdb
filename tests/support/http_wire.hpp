#pragma once
// Reading HTTP responses off a raw socket, for tests that check the bytes a proxy answers with.
#include "support/net.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace hopgate::test {

struct HttpResponse {
  int status = 0;
  std::string head; ///< status line and header fields, up to and with the blank line
  std::string body; ///< de-chunked
  std::string describe() const { return head + body; }
};

/// The value of header `name` in a response head, case-insensitively ("" when absent).
std::string header_of(const std::string& head, const std::string& name);

/// Reads one response: its head, then a body framed by Content-Length, chunked, or the close.
/// `no_body`: the head only (the answer to HEAD). nullopt when nothing complete arrived in time.
std::optional<HttpResponse> read_http_response(const Fd& fd, bool no_body = false,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(10));

} // namespace hopgate::test
