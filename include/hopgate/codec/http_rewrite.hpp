#pragma once
// What an HTTP proxy does to a message's header section on its way through (RFC 9110 §7.6,
// RFC 9112 §6): drop the hop-by-hop fields, set Host from the URI, add Via and optionally
// X-Forwarded-For, refuse ambiguous framing (request smuggling), and write heads out as text.
// Pure: header lists in, header lists and strings out.
#include "hopgate/codec/http_target.hpp"

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::codec::http {

/// One header field as received (name case kept, value without surrounding whitespace).
struct Field {
  std::string name;
  std::string value;
  friend bool operator==(const Field&, const Field&) = default;
};
using Fields = std::vector<Field>;

/// Field names compare case-insensitively.
bool name_equals(std::string_view a, std::string_view b);
/// The first field called `name`, or nullptr.
const Field* find_field(const Fields& fields, std::string_view name);
/// Removes every field called `name`; returns how many.
std::size_t erase_fields(Fields& fields, std::string_view name);
/// Replaces every field called `name` by one (at the first one's place, else at the end).
void set_field(Fields& fields, std::string_view name, std::string value);
/// True when the comma-separated list in `list` holds `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token);
/// True when any field called `name` holds `token` in its comma-separated list.
bool fields_have_token(const Fields& fields, std::string_view name, std::string_view token);

/// Removes the hop-by-hop fields (RFC 9110 §7.6.1): Connection and every field it names,
/// Proxy-Connection, Keep-Alive, TE, Trailer, Transfer-Encoding (the proxy frames the body
/// itself), Upgrade, Proxy-Authorization and Proxy-Authenticate. Returns how many went.
std::size_t strip_hop_by_hop(Fields& fields);

/// Adds `text` ("1.1 hopgate") to Via, after any received value. Empty text: no change.
void append_via(Fields& fields, std::string_view text);
/// Adds the client's address to X-Forwarded-For, after any received value.
void append_forwarded_for(Fields& fields, std::string_view client_address);
/// Sets Host (one field, first in the section).
void set_host(Fields& fields, std::string value);

/// How a message's body is delimited, from its framing fields.
struct Framing {
  enum class Kind { none, length, chunked, until_close };
  Kind kind = Kind::none;
  std::uint64_t length = 0; ///< for Kind::length
};

/// Refuses framing a proxy must not pass on (RFC 9112 §6.1, §6.3): Content-Length together with
/// Transfer-Encoding, Content-Length values that differ or are not numbers, and (requests) a
/// Transfer-Encoding whose last coding is not a single chunked. On success returns the framing:
/// a request with neither field has none; a response has until_close.
std::optional<Framing> check_framing(const Fields& fields, bool is_request, boost::system::error_code& ec);

/// What the proxy adds to a forwarded request.
struct RewriteOptions {
  std::string via;            ///< Via text; empty: none
  bool x_forwarded_for = false;
  std::string client_address; ///< for X-Forwarded-For (IPv6 without brackets)
};

/// The request rewrite before forwarding: hop-by-hop fields out, Host from the URI, Via,
/// X-Forwarded-For when enabled. Framing fields (Content-Length) are left to the caller.
void rewrite_request(Fields& fields, const RequestTarget& target, const RewriteOptions& options);
/// The response rewrite: hop-by-hop fields out, Via added.
void rewrite_response(Fields& fields, std::string_view via);

/// "METHOD target HTTP/1.1\r\n" + fields + "\r\n".
std::string serialize_request_head(std::string_view method, std::string_view target, const Fields& fields);
/// "HTTP/1.1 status reason\r\n" + fields + "\r\n".
std::string serialize_response_head(unsigned status, std::string_view reason, const Fields& fields);

/// The standard reason phrase for the statuses the proxy itself sends ("Bad Gateway").
std::string_view reason_phrase(unsigned status);

/// A complete short reply in the proxy's own voice: text/plain body "STATUS Reason: text\n",
/// Content-Length, `Connection: close` when `close`, else `Connection: keep-alive` when
/// `http10_client` (HTTP/1.0 needs it spelled out), plus `extra` fields.
std::string proxy_reply(unsigned status, std::string_view text, bool close, bool http10_client = false,
                        const Fields& extra = {});

} // namespace hopgate::codec::http
