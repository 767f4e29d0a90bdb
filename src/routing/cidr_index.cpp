#include "hopgate/routing/cidr_index.hpp"
#include "hopgate/routing/rule_list.hpp"

#include <algorithm>

namespace hopgate::routing {

namespace {
template <class Levels> auto& level_for(Levels& levels, unsigned prefix) {
  // Longest prefixes first; the order does not change results (the table merges by rule index).
  auto it = std::find_if(levels.begin(), levels.end(), [&](const auto& l) { return l.prefix <= prefix; });
  if (it == levels.end() || it->prefix != prefix) {
    it = levels.insert(it, typename Levels::value_type{});
    it->prefix = prefix;
  }
  return *it;
}
} // namespace

CidrIndex::V6Key CidrIndex::to_key(const boost::asio::ip::address_v6& a) {
  auto b = a.to_bytes();
  V6Key k;
  for (std::size_t i = 0; i < 8; ++i) k.hi = (k.hi << 8) | b[i];
  for (std::size_t i = 8; i < 16; ++i) k.lo = (k.lo << 8) | b[i];
  return k;
}

void CidrIndex::add(const Cidr& cidr, std::uint32_t rule) {
  // Kept exactly as Cidr::contains sees it: a v4-mapped IPv6 prefix stays IPv6 (and so never
  // matches an address, which is unmapped before the lookup), and a hand-built network with host
  // bits set matches nothing.
  if (cidr.network.is_v4()) {
    unsigned prefix = std::min<unsigned>(cidr.prefix, 32);
    auto net = cidr.network.to_v4().to_uint();
    if (mask_v4(net, prefix) != net) return;
    add_rule(level_for(v4_, prefix).nets[net], rule);
  } else {
    unsigned prefix = std::min<unsigned>(cidr.prefix, 128);
    auto net = to_key(cidr.network.to_v6());
    if (!(mask_v6(net, prefix) == net)) return;
    add_rule(level_for(v6_, prefix).nets[net], rule);
  }
}

} // namespace hopgate::routing
