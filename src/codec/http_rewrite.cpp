#include "hopgate/codec/http_rewrite.hpp"

#include <algorithm>
#include <charconv>

namespace hopgate::codec::http {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Calls f(token) for each non-empty element of a comma-separated list.
template <class F> void for_each_token(std::string_view list, F f) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto tok = trim(list.substr(0, comma));
    if (!tok.empty()) f(tok);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

} // namespace

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

void set_field(Fields& fields, std::string_view name, std::string value) {
  auto first = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return name_equals(f.name, name); });
  if (first == fields.end()) {
    fields.push_back({std::string(name), std::move(value)});
    return;
  }
  first->value = std::move(value);
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
  std::vector<std::string> named;
  for (const auto& f : fields)
    if (name_equals(f.name, "Connection") || name_equals(f.name, "Proxy-Connection"))
      for_each_token(f.value, [&](std::string_view t) { named.emplace_back(t); });
  static constexpr std::string_view fixed[] = {"Connection", "Proxy-Connection", "Keep-Alive",         "TE",
                                               "Trailer",    "Transfer-Encoding", "Upgrade",           "Proxy-Authorization",
                                               "Proxy-Authenticate"};
  auto before = fields.size();
  std::erase_if(fields, [&](const Field& f) {
    for (auto n : fixed)
      if (name_equals(f.name, n)) return true;
    for (const auto& n : named)
      if (name_equals(f.name, n)) return true;
    return false;
  });
  return before - fields.size();
}

void append_via(Fields& fields, std::string_view text) {
  if (text.empty()) return;
  for (auto it = fields.rbegin(); it != fields.rend(); ++it)
    if (name_equals(it->name, "Via")) {
      it->value.append(", ").append(text);
      return;
    }
  fields.push_back({"Via", std::string(text)});
}

void append_forwarded_for(Fields& fields, std::string_view client_address) {
  for (auto it = fields.rbegin(); it != fields.rend(); ++it)
    if (name_equals(it->name, "X-Forwarded-For")) {
      it->value.append(", ").append(client_address);
      return;
    }
  fields.push_back({"X-Forwarded-For", std::string(client_address)});
}

void set_host(Fields& fields, std::string value) {
  erase_fields(fields, "Host");
  fields.insert(fields.begin(), Field{"Host", std::move(value)});
}

std::optional<Framing> check_framing(const Fields& fields, bool is_request, boost::system::error_code& ec) {
  ec = {};
  std::optional<std::uint64_t> length;
  bool has_te = false;
  std::vector<std::string_view> codings;
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
      for_each_token(f.value, [&](std::string_view t) { codings.push_back(t); });
    }
  }
  if (ec) return std::nullopt;
  if (has_te && length) {
    ec = HttpError::length_and_encoding;
    return std::nullopt;
  }
  if (has_te) {
    auto chunked = std::count_if(codings.begin(), codings.end(), [](std::string_view c) { return name_equals(c, "chunked"); });
    bool last_chunked = !codings.empty() && name_equals(codings.back(), "chunked");
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

void rewrite_request(Fields& fields, const RequestTarget& target, const RewriteOptions& options) {
  strip_hop_by_hop(fields);
  set_host(fields, host_text(target.authority, 80));
  append_via(fields, options.via);
  if (options.x_forwarded_for && !options.client_address.empty()) append_forwarded_for(fields, options.client_address);
}

void rewrite_response(Fields& fields, std::string_view via) {
  strip_hop_by_hop(fields);
  append_via(fields, via);
}

namespace {
void append_fields(std::string& out, const Fields& fields) {
  for (const auto& f : fields) out.append(f.name).append(": ").append(f.value).append("\r\n");
  out.append("\r\n");
}
} // namespace

std::string serialize_request_head(std::string_view method, std::string_view target, const Fields& fields) {
  std::string out;
  out.reserve(64 + target.size() + fields.size() * 32);
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  append_fields(out, fields);
  return out;
}

std::string serialize_response_head(unsigned status, std::string_view reason, const Fields& fields) {
  std::string out;
  out.reserve(64 + fields.size() * 32);
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason).append("\r\n");
  append_fields(out, fields);
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
  Fields f{{"Content-Type", "text/plain; charset=utf-8"}, {"Content-Length", std::to_string(body.size())}};
  if (close) f.push_back({"Connection", "close"});
  else if (http10_client) f.push_back({"Connection", "keep-alive"});
  f.insert(f.end(), extra.begin(), extra.end());
  return serialize_response_head(status, reason_phrase(status), f) + body;
}

} // namespace hopgate::codec::http
