#pragma once
// What an HTTP proxy does to a message's header section on its way through (RFC 9110 §7.6,
// RFC 9112 §6): drop the hop-by-hop fields, set Host from the URI, add Via and optionally
// X-Forwarded-For, refuse ambiguous framing (request smuggling), and write heads out as text.
// Pure: header lists in, header lists and strings out.
//
// DESIGN: the rewrite works in place. A field is a pair of views of the text the parser already
// holds; dropping, replacing or appending to a field edits the list of views, and the few values
// the proxy makes (Host, a joined Via) live in the section's own store. Nothing that passes
// through unchanged is copied until the head is written out, once, into a buffer the caller
// reuses request after request.
#include "hopgate/codec/http_target.hpp"

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::codec::http {

/// One header field line: views of its name (case kept) and value (without surrounding
/// whitespace). What they view belongs to the parsed message, a HeaderSection's store, or a
/// literal.
struct Field {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const Field&, const Field&) = default;
};
using Fields = std::vector<Field>;

/// A header section being rewritten in place: the received fields as views, plus the store for
/// the values the rewrite makes. clear() keeps the capacity, so a section kept for a connection's
/// requests allocates nothing once warm.
class HeaderSection {
public:
  HeaderSection() = default;
  explicit HeaderSection(Fields received) : fields(std::move(received)) {}
  HeaderSection(const HeaderSection&) = delete; // the views may point into its own store
  HeaderSection& operator=(const HeaderSection&) = delete;

  Fields fields;
  /// Keeps a copy of `parts`, joined, until clear() and returns a view of it.
  std::string_view keep(std::initializer_list<std::string_view> parts);
  std::string_view keep(std::string_view text) { return keep({text}); }
  void clear();
  /// Gives back the memory too (an idle connection holds none).
  void release();

private:
  // Each made value in a string of its own on the heap, so adding one never moves what earlier
  // views point at; after clear() the strings are reused (their capacity kept) in order.
  std::vector<std::unique_ptr<std::string>> made_;
  std::size_t used_ = 0;
};

/// Field names compare case-insensitively.
bool name_equals(std::string_view a, std::string_view b);
/// The first field called `name`, or nullptr.
const Field* find_field(const Fields& fields, std::string_view name);
/// Removes every field called `name`; returns how many.
std::size_t erase_fields(Fields& fields, std::string_view name);
/// Replaces every field called `name` by one (at the first one's place, else at the end).
/// `value` must outlive the list (a view of received text, a literal, or HeaderSection::keep).
void set_field(Fields& fields, std::string_view name, std::string_view value);
/// True when the comma-separated list in `list` holds `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token);
/// True when any field called `name` holds `token` in its comma-separated list.
bool fields_have_token(const Fields& fields, std::string_view name, std::string_view token);

/// Removes the hop-by-hop fields (RFC 9110 §7.6.1): Connection and every field it names,
/// Proxy-Connection, Keep-Alive, TE, Trailer, Transfer-Encoding (the proxy frames the body
/// itself), Upgrade, Proxy-Authorization and Proxy-Authenticate. Returns how many went.
std::size_t strip_hop_by_hop(Fields& fields);

/// Adds `text` ("1.1 hopgate") to Via, after any received value. Empty text: no change.
void append_via(HeaderSection& section, std::string_view text);
/// Adds the client's address to X-Forwarded-For, after any received value.
void append_forwarded_for(HeaderSection& section, std::string_view client_address);
/// Sets Host (one field, first in the section); `value` must outlive the list.
void set_host(Fields& fields, std::string_view value);

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
  std::string_view via;            ///< Via text; empty: none
  bool x_forwarded_for = false;
  std::string_view client_address; ///< for X-Forwarded-For (IPv6 without brackets)
};

/// The request rewrite before forwarding: hop-by-hop fields out, Host from the URI, Via,
/// X-Forwarded-For when enabled. Framing fields (Content-Length) are left to the caller.
void rewrite_request(HeaderSection& section, const RequestTarget& target, const RewriteOptions& options);
/// The response rewrite: hop-by-hop fields out, Via added.
void rewrite_response(HeaderSection& section, std::string_view via);

/// Appends "METHOD target HTTP/1.1\r\n" + fields + "\r\n" to `out`.
void append_request_head(std::string& out, std::string_view method, std::string_view target, const Fields& fields);
/// Appends "HTTP/1.1 status reason\r\n" + fields + "\r\n" to `out`.
void append_response_head(std::string& out, unsigned status, std::string_view reason, const Fields& fields);
/// The same heads as new strings.
std::string serialize_request_head(std::string_view method, std::string_view target, const Fields& fields);
std::string serialize_response_head(unsigned status, std::string_view reason, const Fields& fields);

/// The standard reason phrase for the statuses the proxy itself sends ("Bad Gateway").
std::string_view reason_phrase(unsigned status);

/// A complete short reply in the proxy's own voice: text/plain body "STATUS Reason: text\n",
/// Content-Length, `Connection: close` when `close`, else `Connection: keep-alive` when
/// `http10_client` (HTTP/1.0 needs it spelled out), plus `extra` fields.
std::string proxy_reply(unsigned status, std::string_view text, bool close, bool http10_client = false,
                        const Fields& extra = {});

} // namespace hopgate::codec::http
