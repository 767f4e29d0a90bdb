#pragma once
// Cidr: an IPv4 or IPv6 network prefix, used by route matchers and access lists.
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hopgate {

struct Cidr {
  boost::asio::ip::address network; ///< host bits cleared
  std::uint8_t prefix = 0;

  /// Parses "10.0.0.0/8", "fd00::/8", or a bare address (full-length prefix).
  static std::optional<Cidr> parse(std::string_view text);
  /// True when `a` lies inside; an IPv4-mapped IPv6 address is compared as IPv4.
  bool contains(const boost::asio::ip::address& a) const;
  std::string to_string() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

/// Unwraps ::ffff:a.b.c.d to a.b.c.d; other addresses are returned as they are.
boost::asio::ip::address unmap_v4(const boost::asio::ip::address& a);

} // namespace hopgate
