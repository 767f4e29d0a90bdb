#pragma once
// Asynchronous name resolution for direct routes and for socks4/socks5 hops that need an IP.
// One Resolver per io_context (no locks); lookups never block the io_context and never queue
// behind each other:
// - /etc/hosts first;
// - with `dns.servers` configured: hopgate's own stub resolver (A and AAAA over UDP, TTLs honoured);
// - otherwise the system resolver through glibc's getaddrinfo_a, which runs each lookup on its
//   own helper thread (Asio's resolver runs getaddrinfo on one thread, so one slow name would
//   stall every other lookup).
// Answers are cached per Resolver, bounded by `dns.cache_size`.
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace hopgate::dns {

struct ResolveResult {
  error_code ec;
  std::vector<asio::ip::address> addresses; ///< IPv6 and IPv4 interleaved, as the source ordered them
};

class Resolver {
public:
  explicit Resolver(asio::any_io_executor ex);
  /// Resolves `host` (a name, not an IP literal). Counts one local lookup, cached or not.
  /// `settings` null: system resolver and default cache bounds.
  awaitable<ResolveResult> resolve(std::string host, const config::Dns* settings = nullptr);
  /// Local lookups made by every Resolver in the process (for the admin API and the no-leak test).
  static std::uint64_t lookups_total();

private:
  awaitable<ResolveResult> query_servers(const std::string& host, const config::Dns& settings, std::uint32_t& ttl);
  awaitable<ResolveResult> system_lookup(const std::string& host);

  struct CacheEntry {
    ResolveResult result;
    Clock::time_point expires;
  };
  asio::any_io_executor ex_;
  std::unordered_map<std::string, CacheEntry> cache_;
};

} // namespace hopgate::dns
