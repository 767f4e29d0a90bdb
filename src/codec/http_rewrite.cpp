#include "hopgate/codec/http_rewrite.hpp"

#include "hopgate/core/authority.hpp"

#include <algorithm>
#include <charconv>

namespace hopgate::codec::http {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// Case-insensitive order of field names.
bool name_less(std::string_view a, std::string_view b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return lower(x) < lower(y); });
}

/// Calls f(token) for each non-empty element of a comma-separated list.
template <class F> void for_each_token(std::string_view list, F f) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto tok = trim_ows(list.substr(0, comma));
    if (!tok.empty()) f(tok);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

} // namespace

std::string_view HeaderSection::keep(std::initializer_list<std::string_view> parts) {
  if (used_ == made_.size()) made_.push_back(std::make_unique<std::string>());
  auto& slot = *made_[used_++]; // a slot no view points into (earlier ones are left alone)
  slot.clear();
  for (auto p : parts) slot.append(p);
  return slot;
}

void HeaderSection::clear() {
  fields.clear();
  used_ = 0;
}

void HeaderSection::release() {
  Fields().swap(fields);
  decltype(made_)().swap(made_);
  used_ = 0;
}

bool name_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

const Field* find_field(const Fields& fields, std::string_view name) {
  for (const auto& f : fields)
    if (name_equals(f.name, name)) return &f;
  return nullptr;
}

std::size_t erase_fields(Fields& fields, std::string_view name) {
  auto before = fields.size();
  std::erase_if(fields, [&](const Field& f) { return name_equals(f.name, name); });
  return before - fields.size();
}

void set_field(Fields& fields, std::string_view name, std::string_view value) {
  auto first = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return name_equals(f.name, name); });
  if (first == fields.end()) {
    fields.push_back({name, value});
    return;
  }
  first->value = value;
  auto keep = first - fields.begin();
  std::erase_if(fields, [&, i = std::ptrdiff_t{0}](const Field& f) mutable {
    bool drop = i != keep && name_equals(f.name, name);
    ++i;
    return drop;
  });
}

bool has_token(std::string_view list, std::string_view token) {
  bool found = false;
  for_each_token(list, [&](std::string_view t) { found = found || name_equals(t, token); });
  return found;
}

bool fields_have_token(const Fields& fields, std::string_view name, std::string_view token) {
  for (const auto& f : fields)
    if (name_equals(f.name, name) && has_token(f.value, token)) return true;
  return false;
}

std::size_t strip_hop_by_hop(Fields& fields) {
  // Connection may name further fields that are only meant for this hop (RFC 9110 §7.6.1).
  // Their names are views of the received text, which outlives the edits to the list. Sorted,
  // so that a head naming thousands of fields in Connection costs n log n, not n².
  std::vector<std::string_view> named;
  for (const auto& f : fields)
    if (name_equals(f.name, "Connection") || name_equals(f.name, "Proxy-Connection"))
      for_each_token(f.value, [&](std::string_view t) {
        if (!has_token("keep-alive, close", t)) named.push_back(t); // the usual values name no field
      });
  std::sort(named.begin(), named.end(), name_less);
  static constexpr std::string_view fixed[] = {"Connection", "Proxy-Connection", "Keep-Alive",         "TE",
                                               "Trailer",    "Transfer-Encoding", "Upgrade",           "Proxy-Authorization",
                                               "Proxy-Authenticate"};
  auto before = fields.size();
  std::erase_if(fields, [&](const Field& f) {
    for (auto n : fixed)
      if (name_equals(f.name, n)) return true;
    return std::binary_search(named.begin(), named.end(), f.name, name_less);
  });
  return before - fields.size();
}

namespace {
/// Adds `item` to the list in the last field called `name` (RFC 9110 §5.3: one list, in order),
/// or adds the field. `item` must outlive the list.
void append_to_list(HeaderSection& section, std::string_view name, std::string_view item) {
  auto& fields = section.fields;
  for (auto it = fields.rbegin(); it != fields.rend(); ++it)
    if (name_equals(it->name, name)) {
      it->value = section.keep({it->value, ", ", item});
      return;
    }
  fields.push_back({name, item});
}
} // namespace

void append_via(HeaderSection& section, std::string_view text) {
  if (!text.empty()) append_to_list(section, "Via", text);
}

void append_forwarded_for(HeaderSection& section, std::string_view client_address) {
  append_to_list(section, "X-Forwarded-For", client_address);
}

void set_host(Fields& fields, std::string_view value) {
  erase_fields(fields, "Host");
  fields.insert(fields.begin(), Field{"Host", value});
}

std::optional<Framing> check_framing(const Fields& fields, bool is_request, boost::system::error_code& ec) {
  ec = {};
  std::optional<std::uint64_t> length;
  bool has_te = false;
  std::size_t chunked = 0;
  bool last_chunked = false;
  for (const auto& f : fields) {
    if (name_equals(f.name, "Content-Length")) {
      // A list ("5, 5") or repeated fields are fine only when every value is the same number.
      bool any = false;
      bool bad = false;
      for_each_token(f.value, [&](std::string_view t) {
        any = true;
        std::uint64_t v = 0;
        auto [p, e] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (e != std::errc{} || p != t.data() + t.size()) {
          bad = true;
          return;
        }
        if (length && *length != v && !ec) ec = HttpError::conflicting_content_length;
        length = v;
      });
      if (bad || !any) {
        ec = HttpError::bad_content_length;
        return std::nullopt;
      }
    } else if (name_equals(f.name, "Transfer-Encoding")) {
      has_te = true;
      for_each_token(f.value, [&](std::string_view t) {
        last_chunked = name_equals(t, "chunked");
        chunked += last_chunked;
      });
    }
  }
  if (ec) return std::nullopt;
  if (has_te && length) {
    ec = HttpError::length_and_encoding;
    return std::nullopt;
  }
  if (has_te) {
    if (last_chunked && chunked == 1) return Framing{Framing::Kind::chunked, 0};
    if (is_request || chunked > 0) {
      ec = HttpError::bad_transfer_encoding;
      return std::nullopt;
    }
    return Framing{Framing::Kind::until_close, 0}; // a response coded without chunked runs until close
  }
  if (length) return Framing{Framing::Kind::length, *length};
  return Framing{is_request ? Framing::Kind::none : Framing::Kind::until_close, 0};
}

void rewrite_request(HeaderSection& section, const RequestTarget& target, const RewriteOptions& options) {
  strip_hop_by_hop(section.fields);
  set_host(section.fields, section.keep(host_text(target.authority, 80)));
  append_via(section, options.via);
  if (options.x_forwarded_for && !options.client_address.empty()) append_forwarded_for(section, options.client_address);
}

void rewrite_response(HeaderSection& section, std::string_view via) {
  strip_hop_by_hop(section.fields);
  append_via(section, via);
}

namespace {
void append_fields(std::string& out, const Fields& fields) {
  for (const auto& f : fields) out.append(f.name).append(": ").append(f.value).append("\r\n");
  out.append("\r\n");
}

std::size_t fields_size(const Fields& fields) {
  std::size_t n = 2;
  for (const auto& f : fields) n += f.name.size() + f.value.size() + 4;
  return n;
}
} // namespace

void append_request_head(std::string& out, std::string_view method, std::string_view target, const Fields& fields) {
  out.reserve(out.size() + method.size() + target.size() + 11 + fields_size(fields));
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  append_fields(out, fields);
}

void append_response_head(std::string& out, unsigned status, std::string_view reason, const Fields& fields) {
  out.reserve(out.size() + 15 + reason.size() + fields_size(fields));
  char code[10]; // any unsigned fits
  auto end = std::to_chars(code, code + sizeof code, status).ptr;
  out.append("HTTP/1.1 ").append(code, end).append(" ").append(reason).append("\r\n");
  append_fields(out, fields);
}

std::string serialize_request_head(std::string_view method, std::string_view target, const Fields& fields) {
  std::string out;
  append_request_head(out, method, target, fields);
  return out;
}

std::string serialize_response_head(unsigned status, std::string_view reason, const Fields& fields) {
  std::string out;
  append_response_head(out, status, reason, fields);
  return out;
}

std::string_view reason_phrase(unsigned status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 407: return "Proxy Authentication Required";
  case 408: return "Request Timeout";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 417: return "Expectation Failed";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Error";
  }
}

std::string proxy_reply(unsigned status, std::string_view text, bool close, bool http10_client, const Fields& extra) {
  std::string body = std::to_string(status) + " " + std::string(reason_phrase(status));
  if (!text.empty()) body.append(": ").append(text);
  body += "\n";
  auto length = std::to_string(body.size());
  Fields f{{"Content-Type", "text/plain; charset=utf-8"}, {"Content-Length", length}};
  if (close) f.push_back({"Connection", "close"});
  else if (http10_client) f.push_back({"Connection", "keep-alive"});
  f.insert(f.end(), extra.begin(), extra.end());
  auto out = serialize_response_head(status, reason_phrase(status), f);
  out += body;
  return out;
}

} // namespace hopgate::codec::http
