#include "hopgate/dns/resolver.hpp"

namespace hopgate::dns {
namespace {
std::atomic<std::uint64_t> g_lookups{0};
}

Resolver::Resolver(asio::any_io_executor ex) : ex_(std::move(ex)) {}

std::uint64_t Resolver::lookups_total() { return g_lookups.load(std::memory_order_relaxed); }

awaitable<ResolveResult> Resolver::resolve(std::string host) {
  g_lookups.fetch_add(1, std::memory_order_relaxed);
  tcp::resolver resolver(ex_);
  auto [ec, results] = co_await resolver.async_resolve(host, "", use_nothrow);
  ResolveResult out;
  out.ec = ec;
  if (!ec) {
    for (const auto& r : results) {
      auto a = r.endpoint().address();
      bool seen = false;
      for (auto& x : out.addresses) seen = seen || x == a;
      if (!seen) out.addresses.push_back(a);
    }
    if (out.addresses.empty()) out.ec = asio::error::host_not_found;
  }
  co_return out;
}

} // namespace hopgate::dns
