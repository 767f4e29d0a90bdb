#pragma once
// Asynchronous name resolution for direct routes and for socks4/socks5 hops that need an IP.
// One Resolver per io_context; lookups never block the io_context.
#include "hopgate/core/asio.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace hopgate::dns {

struct ResolveResult {
  error_code ec;
  std::vector<asio::ip::address> addresses; ///< IPv6 and IPv4 interleaved, as the system ordered them
};

class Resolver {
public:
  explicit Resolver(asio::any_io_executor ex);
  /// Resolves `host` (a name, not an IP literal). Counts one local lookup.
  awaitable<ResolveResult> resolve(std::string host);
  /// Local lookups made by every Resolver in the process (for the admin API and the no-leak test).
  static std::uint64_t lookups_total();

private:
  asio::any_io_executor ex_;
};

} // namespace hopgate::dns
