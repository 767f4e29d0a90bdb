#pragma once
// Authorities as HTTP carries them (RFC 9110 §4.2, §7.2; RFC 3986 §3.2): a Host header value
// taken apart, a host name and an origin in the one form that compares equal. Pure; the config
// loader (listeners.admin.hosts, cors_origins) and the admin API's browser guard share them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hopgate {

/// Without the optional whitespace (SP, HTAB) around a field value (RFC 9110 §5.6.3). Inline: the
/// header rewrite calls it per field of every forwarded request.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// ASCII case-insensitive equality, as protocol tokens compare (schemes, auth schemes, media
/// types, "100-continue"): no locale.
inline bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

/// A Host header value (RFC 9110 §7.2: uri-host [":" port]) taken apart.
struct HostAuthority {
  std::string host;  ///< lowercase, without a trailing dot; an IPv6 literal keeps its brackets
  std::optional<std::uint16_t> port;
  bool ip_literal = false; ///< a dotted-quad IPv4 address or a bracketed IPv6 address
};

/// nullopt for anything that is not a bare authority: userinfo ("a@b"), a path, a query, spaces,
/// an unbracketed IPv6 address, a port that is not 1-5 digits up to 65535, an empty host.
std::optional<HostAuthority> parse_host_header(std::string_view value);

/// A host name as listeners.admin.hosts holds it: lowercase, no trailing dot. nullopt when it
/// is not a DNS name (letters, digits, '-', '_' and dots between non-empty labels).
std::optional<std::string> normalize_host_name(std::string_view name);

/// "scheme://host[:port]" in the form browsers send it in Origin: scheme and host lowercase, the
/// scheme's default port (http 80, https 443) dropped. nullopt for anything else ("null", a path,
/// userinfo, another scheme).
std::optional<std::string> normalize_origin(std::string_view text);

} // namespace hopgate
