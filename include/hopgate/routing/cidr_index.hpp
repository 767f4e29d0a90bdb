#pragma once
// CidrIndex: network prefixes → the sorted rule indices that carry them. One hash map per prefix
// length in use, so a lookup costs one probe per distinct length (at most 33 for IPv4, 129 for
// IPv6, in practice a handful) whatever the number of prefixes.
#include "hopgate/core/cidr.hpp"

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace hopgate::routing {

class CidrIndex {
public:
  /// Indexes `cidr` for `rule`. Rules must be added in increasing order so that every list stays sorted.
  void add(const Cidr& cidr, std::uint32_t rule);

  bool empty() const { return v4_.empty() && v6_.empty(); }

  /// Calls fn(std::span<const std::uint32_t>) for each non-empty sorted list of rules having a
  /// prefix that contains `a`. Same family rules as Cidr::contains: an IPv4-mapped IPv6 address
  /// is looked up as IPv4.
  template <class Fn> void for_each_match(const boost::asio::ip::address& a, Fn&& fn) const {
    auto u = unmap_v4(a);
    if (u.is_v4()) {
      auto bits = u.to_v4().to_uint();
      for (const auto& level : v4_) {
        auto it = level.nets.find(mask_v4(bits, level.prefix));
        if (it != level.nets.end()) fn(std::span<const std::uint32_t>(it->second));
      }
    } else {
      auto key = to_key(u.to_v6());
      for (const auto& level : v6_) {
        auto it = level.nets.find(mask_v6(key, level.prefix));
        if (it != level.nets.end()) fn(std::span<const std::uint32_t>(it->second));
      }
    }
  }

private:
  struct V6Key {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    friend bool operator==(const V6Key&, const V6Key&) = default;
  };
  struct V6Hash {
    std::size_t operator()(const V6Key& k) const noexcept {
      return std::hash<std::uint64_t>{}(k.hi * 0x9E3779B97F4A7C15ull ^ k.lo);
    }
  };
  template <class Key, class Hash> struct Level {
    unsigned prefix = 0;
    std::unordered_map<Key, std::vector<std::uint32_t>, Hash> nets;
  };

  static std::uint32_t mask_v4(std::uint32_t bits, unsigned prefix) {
    return prefix == 0 ? 0 : bits & (~std::uint32_t{0} << (32 - prefix));
  }
  static std::uint64_t mask_64(std::uint64_t bits, unsigned prefix) {
    return prefix == 0 ? 0 : prefix >= 64 ? bits : bits & (~std::uint64_t{0} << (64 - prefix));
  }
  static V6Key mask_v6(V6Key k, unsigned prefix) {
    return {mask_64(k.hi, prefix), prefix <= 64 ? 0 : mask_64(k.lo, prefix - 64)};
  }
  static V6Key to_key(const boost::asio::ip::address_v6& a);

  std::vector<Level<std::uint32_t, std::hash<std::uint32_t>>> v4_;
  std::vector<Level<V6Key, V6Hash>> v6_;
};

} // namespace hopgate::routing
