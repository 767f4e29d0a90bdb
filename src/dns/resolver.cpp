#include "hopgate/dns/resolver.hpp"

#include "hopgate/codec/dns.hpp"
#include "hopgate/core/target.hpp"
#include "hopgate/dns/lookup_limiter.hpp"

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <thread>
#include <mutex>
#include <netdb.h>
#include <signal.h>
#include <random>
#include <sstream>

namespace hopgate::dns {
namespace {

std::atomic<std::uint64_t> g_lookups{0};

/// /etc/hosts, read once (a changed file is picked up on restart, as most daemons do).
const std::unordered_map<std::string, std::vector<asio::ip::address>>& hosts_file() {
  static std::unordered_map<std::string, std::vector<asio::ip::address>> map;
  static std::once_flag once;
  std::call_once(once, [] {
    std::ifstream in("/etc/hosts");
    std::string line;
    while (std::getline(in, line)) {
      if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
      std::istringstream words(line);
      std::string ip, name;
      if (!(words >> ip)) continue;
      error_code ec;
      auto a = asio::ip::make_address(ip, ec);
      if (ec) continue;
      while (words >> name) map[normalize_host(name)].push_back(a);
    }
  });
  return map;
}

// getaddrinfo_a completion: runs on a glibc helper thread and posts the result to the io_context.
struct GaiBase {
  gaicb cb{};
  addrinfo hints{};
  std::string host;
  sigevent sev{};
  virtual void complete(int rc, addrinfo* result) = 0;
  virtual ~GaiBase() = default;
};

template <class Handler> struct GaiRequest final : GaiBase {
  Handler handler;
  asio::executor_work_guard<asio::any_io_executor> work;
  GaiRequest(Handler h, asio::any_io_executor ex) : handler(std::move(h)), work(ex) {}
  void complete(int rc, addrinfo* result) override {
    auto ex = work.get_executor();
    asio::post(ex, [h = std::move(handler), rc, result]() mutable { std::move(h)(rc, result); });
  }
};

void on_gai_done(sigval v) {
  auto* req = static_cast<GaiBase*>(v.sival_ptr);
  req->complete(gai_error(&req->cb), req->cb.ar_result);
  delete req;
}

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer cannot follow glibc's getaddrinfo_a helper threads (libc starts them without
// going through its interceptors, and the first malloc on one crashes the TSan runtime). TSan
// builds run the blocking getaddrinfo() on a thread of their own instead; every other build
// uses getaddrinfo_a, which needs no thread of ours.
constexpr bool use_getaddrinfo_a = false;
#else
constexpr bool use_getaddrinfo_a = true;
#endif

template <class Token> auto async_getaddrinfo(asio::any_io_executor ex, std::string host, Token&& token) {
  return asio::async_initiate<Token, void(int, addrinfo*)>(
      [ex](auto handler, std::string host) {
        auto* req = new GaiRequest<std::decay_t<decltype(handler)>>(std::move(handler), ex);
        req->host = std::move(host);
        req->hints.ai_socktype = SOCK_STREAM;
        req->hints.ai_flags = AI_ADDRCONFIG;
        req->cb.ar_name = req->host.c_str();
        req->cb.ar_request = &req->hints;
        if constexpr (!use_getaddrinfo_a) {
          std::thread([req] {
            addrinfo* result = nullptr;
            int rc = ::getaddrinfo(req->cb.ar_name, nullptr, &req->hints, &result);
            req->complete(rc, result);
            delete req;
          }).detach();
          return;
        }
        req->sev.sigev_notify = SIGEV_THREAD;
        req->sev.sigev_notify_function = on_gai_done;
        req->sev.sigev_value.sival_ptr = static_cast<GaiBase*>(req);
        gaicb* list[1] = {&req->cb};
        if (int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &req->sev); rc != 0) {
          req->complete(rc, nullptr);
          delete req;
        }
      },
      token, std::move(host));
}

} // namespace

Resolver::Resolver(asio::any_io_executor ex) : ex_(std::move(ex)) {}

std::uint64_t Resolver::lookups_total() { return g_lookups.load(std::memory_order_relaxed); }

awaitable<ResolveResult> Resolver::resolve(std::string host, const config::Dns* settings) {
  host = normalize_host(host);
  // RFC 7686: .onion names are not in the DNS, and asking for one tells the resolver which hidden
  // service is wanted. Answer "no such name" without asking anyone (a "resolve": true rule, a
  // BIND peer or a datagram target may ask).
  if (host == "onion" || host.ends_with(".onion")) co_return ResolveResult{asio::error::host_not_found, {}};
  g_lookups.fetch_add(1, std::memory_order_relaxed);
  const auto& hosts = hosts_file();
  if (auto it = hosts.find(host); it != hosts.end()) co_return ResolveResult{{}, it->second};

  auto now = Clock::now();
  if (auto it = cache_.find(host); it != cache_.end()) {
    if (it->second.expires > now) co_return it->second.result;
    cache_.erase(it);
  }
  config::Dns defaults;
  const config::Dns& s = settings ? *settings : defaults;
  // A flood of new names waits here for a slot (dns.max_concurrent_lookups, process-wide)
  // instead of opening a socket or a glibc helper thread each; the failure is not cached.
  auto permit = co_await LookupLimiter::process().acquire(s.max_concurrent_lookups, std::chrono::seconds(5));
  if (!permit) co_return ResolveResult{asio::error::host_not_found_try_again, {}};
  ResolveResult result;
  std::uint32_t ttl = 0;
  if (!s.servers.empty()) {
    result = co_await query_servers(host, s, ttl);
  } else {
    result = co_await system_lookup(host);
    ttl = result.ec ? 5 : 60; // the system resolver gives no TTL: keep answers a minute, failures briefly
  }
  auto keep = std::min<double>(ttl, s.cache_max_ttl.count());
  if (keep > 0 && s.cache_size > 0) {
    if (cache_.size() >= s.cache_size) cache_.erase(cache_.begin());
    cache_[host] = CacheEntry{result, now + to_clock(std::chrono::duration<double>(keep))};
  }
  co_return result;
}

awaitable<ResolveResult> Resolver::system_lookup(const std::string& host) {
  auto [rc, list] = co_await async_getaddrinfo(ex_, host, use_nothrow);
  ResolveResult out;
  for (auto* ai = list; ai; ai = ai->ai_next) {
    asio::ip::address a;
    if (ai->ai_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(ai->ai_addr);
      a = asio::ip::address_v4(ntohl(sin->sin_addr.s_addr));
    } else if (ai->ai_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      a = asio::ip::address_v6(b, sin6->sin6_scope_id);
    } else {
      continue;
    }
    if (std::find(out.addresses.begin(), out.addresses.end(), a) == out.addresses.end()) out.addresses.push_back(a);
  }
  if (list) freeaddrinfo(list);
  if (rc != 0 || out.addresses.empty()) out.ec = asio::error::host_not_found;
  co_return out;
}

awaitable<ResolveResult> Resolver::query_servers(const std::string& host, const config::Dns& settings, std::uint32_t& ttl) {
  using asio::ip::udp;
  thread_local std::mt19937 rng{std::random_device{}()};
  ResolveResult out;
  out.ec = asio::error::host_not_found;
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (const auto& server : settings.servers) {
      udp::socket sock(ex_);
      error_code ec;
      sock.open(server.protocol(), ec);
      if (ec) continue;
      auto id = static_cast<std::uint16_t>(rng());
      std::vector<std::uint8_t> qa, qaaaa;
      codec::dns::encode_query(qa, id, host, codec::dns::RecordType::a, ec);
      if (ec) co_return out;
      codec::dns::encode_query(qaaaa, static_cast<std::uint16_t>(id + 1), host, codec::dns::RecordType::aaaa, ec);
      sock.connect(server, ec); // connected: replies from anyone else are not delivered
      if (ec) continue;
      sock.send(asio::buffer(qa), 0, ec);
      sock.send(asio::buffer(qaaaa), 0, ec);
      std::vector<asio::ip::address> v4, v6;
      int answered = 0;
      bool nxdomain = false;
      std::uint32_t min_ttl = std::numeric_limits<std::uint32_t>::max();
      auto deadline = Clock::now() + std::chrono::seconds(2);
      std::array<std::uint8_t, 1500> buf;
      while (answered < 2) {
        auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero()) break;
        auto got = co_await with_timeout(sock.async_receive(asio::buffer(buf), use_nothrow), left);
        if (!got) break;
        auto [rec, n] = *got;
        if (rec) break;
        codec::dns::Answer ans;
        codec::dns::decode_response(std::span<const std::uint8_t>(buf.data(), n), ans, rec);
        if (rec || (ans.id != id && ans.id != static_cast<std::uint16_t>(id + 1))) continue;
        ++answered;
        if (ans.rcode == 3) nxdomain = true;
        for (auto& a : ans.addresses) (a.is_v4() ? v4 : v6).push_back(a);
        if (!ans.addresses.empty()) min_ttl = std::min(min_ttl, ans.min_ttl);
      }
      if (answered == 0) continue; // try the next server
      // IPv6 first, then IPv4, interleaved (RFC 8305 address sorting, simplified).
      out.addresses.clear();
      for (std::size_t i = 0; i < std::max(v4.size(), v6.size()); ++i) {
        if (i < v6.size()) out.addresses.push_back(v6[i]);
        if (i < v4.size()) out.addresses.push_back(v4[i]);
      }
      out.ec = out.addresses.empty() ? error_code(asio::error::host_not_found) : error_code{};
      ttl = out.addresses.empty() ? (nxdomain ? 30u : 5u) : min_ttl;
      co_return out;
    }
  }
  ttl = 0;
  co_return out;
}

} // namespace hopgate::dns
