#include "hopgate/core/cidr.hpp"

#include <array>
#include <charconv>

namespace hopgate {

using boost::asio::ip::address;

address unmap_v4(const address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a;
}

namespace {
template <std::size_t N> void clear_host_bits(std::array<unsigned char, N>& bytes, unsigned prefix) {
  for (std::size_t i = 0; i < N; ++i) {
    unsigned bit_start = static_cast<unsigned>(i) * 8;
    if (bit_start >= prefix) bytes[i] = 0;
    else if (prefix - bit_start < 8) bytes[i] &= static_cast<unsigned char>(0xFF << (8 - (prefix - bit_start)));
  }
}
template <std::size_t N>
bool prefix_equal(const std::array<unsigned char, N>& a, const std::array<unsigned char, N>& b, unsigned prefix) {
  auto x = a;
  clear_host_bits(x, prefix);
  return x == b;
}
} // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(addr_text), ec);
  if (ec) return std::nullopt;
  unsigned max = a.is_v4() ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    auto [end, err] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (err != std::errc{} || end != p.data() + p.size() || prefix > max) return std::nullopt;
  }
  Cidr c;
  c.prefix = static_cast<std::uint8_t>(prefix);
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    clear_host_bits(b, prefix);
    c.network = boost::asio::ip::address_v4(b);
  } else if (a.to_v6().is_v4_mapped() && prefix >= 96) {
    // "::ffff:10.0.0.0/104" is 10.0.0.0/8 written as IPv6. contains() compares a mapped client
    // as IPv4, so kept as IPv6 it would match nothing, and a deny list would fail open (found
    // by the fuzzers).
    auto b = unmap_v4(a).to_v4().to_bytes();
    prefix -= 96;
    c.prefix = static_cast<std::uint8_t>(prefix);
    clear_host_bits(b, prefix);
    c.network = boost::asio::ip::address_v4(b);
  } else {
    auto b = a.to_v6().to_bytes();
    clear_host_bits(b, prefix);
    c.network = boost::asio::ip::address_v6(b);
  }
  return c;
}

bool Cidr::contains(const address& raw) const {
  address a = unmap_v4(raw);
  if (a.is_v4() != network.is_v4()) return false;
  if (a.is_v4()) return prefix_equal(a.to_v4().to_bytes(), network.to_v4().to_bytes(), prefix);
  return prefix_equal(a.to_v6().to_bytes(), network.to_v6().to_bytes(), prefix);
}

std::string Cidr::to_string() const { return network.to_string() + "/" + std::to_string(prefix); }

} // namespace hopgate
