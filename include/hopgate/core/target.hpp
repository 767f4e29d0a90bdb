#pragma once
// TargetAddress: where a client wants to go, as the client named it (domain, IPv4 or IPv6) plus a port.
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hopgate {

/// A destination as named by the client. Exactly one of `domain` / `ip` is meaningful:
/// `ip` is set for IP literals, otherwise `domain` holds the normalised host name.
struct TargetAddress {
  std::string domain;                         ///< lowercase, no trailing dot; empty for IP literals
  std::optional<boost::asio::ip::address> ip; ///< set for IPv4/IPv6 literals
  std::uint16_t port = 0;

  bool is_domain() const { return !ip.has_value(); }
  bool is_ipv4() const { return ip && ip->is_v4(); }
  bool is_ipv6() const { return ip && ip->is_v6(); }
  /// A Tor onion service name ("onion" or "*.onion"): never resolvable by any DNS (RFC 7686).
  bool is_onion() const {
    return is_domain() && (domain == "onion" || (domain.size() > 6 && domain.ends_with(".onion")));
  }

  /// Host as text: the domain, dotted IPv4, or IPv6 without brackets.
  std::string host() const;
  /// "host:port", IPv6 in brackets.
  std::string to_string() const;

  static TargetAddress from_ip(boost::asio::ip::address a, std::uint16_t port);
  /// Builds a target from a host string (IP literal, bracketed IPv6, or a name that is normalised).
  static TargetAddress from_host(std::string_view host, std::uint16_t port);
  /// Parses "host:port" / "[v6]:port". Returns nullopt on a missing or bad port or empty host.
  static std::optional<TargetAddress> parse(std::string_view host_port);

  friend bool operator==(const TargetAddress&, const TargetAddress&) = default;
};

/// Lowercases and drops one trailing dot; IDNA is left as given.
std::string normalize_host(std::string_view host);

} // namespace hopgate
