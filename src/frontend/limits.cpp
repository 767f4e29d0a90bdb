#include "hopgate/frontend/limits.hpp"

#include "hopgate/core/cidr.hpp"

#include <algorithm>
#include <fstream>
#include <ifaddrs.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <cstring>

namespace hopgate::frontend {

// --- ConnectionLimits -------------------------------------------------------------------------

std::string ConnectionLimits::key_of(const asio::ip::address& a) {
  // Bytes, not text: cheaper, and one key per address whatever its spelling.
  auto u = unmap_v4(a);
  if (u.is_v4()) {
    auto b = u.to_v4().to_bytes();
    return std::string(b.begin(), b.end());
  }
  auto b = u.to_v6().to_bytes();
  return std::string(b.begin(), b.end());
}

ConnectionLimits::Slot& ConnectionLimits::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    release();
    owner_ = std::exchange(o.owner_, nullptr);
    key_ = std::move(o.key_);
    id_ = o.id_;
    counted_ = std::exchange(o.counted_, false);
    over_ = std::exchange(o.over_, false);
    refused_ = std::exchange(o.refused_, false);
    which_ = std::move(o.which_);
  }
  return *this;
}

void ConnectionLimits::Slot::release() {
  if (!owner_) return;
  std::lock_guard lock(owner_->mutex_);
  if (counted_) {
    --owner_->total_;
    auto it = owner_->per_client_.find(key_);
    if (it != owner_->per_client_.end() && --it->second == 0) owner_->per_client_.erase(it);
  }
  if (over_ && !refused_) {
    owner_->over_.erase(id_);
    owner_->over_size_.store(owner_->over_.size(), std::memory_order_release);
  }
  owner_ = nullptr;
  counted_ = false;
}

ConnectionLimits::Slot ConnectionLimits::acquire(const asio::ip::address& client, std::uint64_t id, std::size_t max_total,
                                                 std::size_t max_per_client) {
  Slot s;
  s.owner_ = this;
  s.id_ = id;
  s.key_ = key_of(client);
  std::lock_guard lock(mutex_);
  auto& mine = per_client_[s.key_];
  if (max_total && total_ >= max_total) s.which_ = "max_connections";
  else if (max_per_client && mine >= max_per_client) s.which_ = "max_connections_per_client";
  if (s.which_.empty()) {
    ++total_;
    ++mine;
    s.counted_ = true;
    return s;
  }
  if (mine == 0) per_client_.erase(s.key_);
  s.over_ = true;
  if (over_.size() >= over_limit_backlog) s.refused_ = true;
  else {
    over_.emplace(id, s.which_);
    over_size_.store(over_.size(), std::memory_order_release);
  }
  return s;
}

std::optional<std::string> ConnectionLimits::over_limit_of(std::uint64_t id) const {
  // The common case, nobody over a limit, takes no lock on the request path. The flag of `id`
  // was set at its accept, which happened before this request on the same connection.
  if (over_size_.load(std::memory_order_acquire) == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = over_.find(id);
  if (it == over_.end()) return std::nullopt;
  return it->second;
}

std::size_t ConnectionLimits::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

std::size_t ConnectionLimits::from(const asio::ip::address& client) const {
  std::lock_guard lock(mutex_);
  auto it = per_client_.find(key_of(client));
  return it == per_client_.end() ? 0 : it->second;
}

// --- OwnEndpoints ------------------------------------------------------------------------------

void OwnEndpoints::add(const tcp::endpoint& ep) {
  std::lock_guard lock(mutex_);
  if (std::find(endpoints_.begin(), endpoints_.end(), ep) == endpoints_.end()) endpoints_.push_back(ep);
}

std::vector<tcp::endpoint> OwnEndpoints::list() const {
  std::lock_guard lock(mutex_);
  return endpoints_;
}

bool OwnEndpoints::has_port(std::uint16_t port) const {
  std::lock_guard lock(mutex_);
  return std::any_of(endpoints_.begin(), endpoints_.end(), [&](auto& ep) { return ep.port() == port; });
}

bool OwnEndpoints::reaches(const asio::ip::address& target, std::uint16_t port) const {
  auto a = unmap_v4(target);
  std::vector<asio::ip::address> listening;
  {
    std::lock_guard lock(mutex_);
    for (auto& ep : endpoints_)
      if (ep.port() == port) listening.push_back(unmap_v4(ep.address()));
  }
  if (listening.empty()) return false;
  std::optional<std::vector<asio::ip::address>> locals;
  for (auto& l : listening) {
    if (l.is_v4() != a.is_v4()) continue; // a v4 socket never reaches a v6-only listener, nor the reverse
    if (l == a) return true;
    // connect() to 0.0.0.0 or :: goes to the loopback address.
    if (a.is_unspecified() && (l.is_loopback() || l.is_unspecified())) return true;
    if (!l.is_unspecified()) continue;
    // A wildcard listener takes every local address: all of 127/8, ::1, and each interface's.
    if (a.is_loopback()) return true;
    if (!locals) locals = local_interface_addresses();
    for (auto& mine : *locals)
      if (unmap_v4(mine) == a) return true;
  }
  return false;
}

std::uint64_t raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  constexpr rlim_t wanted = 1'048'576;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < wanted) {
    // The kernel refuses a hard limit over fs.nr_open, and raising it needs privilege: a
    // failure here is expected for an ordinary user and leaves the limits as they were.
    rlim_t cap = wanted;
    std::ifstream nr_open("/proc/sys/fs/nr_open");
    if (unsigned long long n = 0; nr_open >> n && n < cap) cap = static_cast<rlim_t>(n);
    if (cap > rl.rlim_max) {
      rlimit higher{cap, cap};
      if (setrlimit(RLIMIT_NOFILE, &higher) == 0) rl = higher;
    }
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit soft{rl.rlim_max, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &soft) == 0) rl = soft;
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

std::vector<asio::ip::address> local_interface_addresses() {
  static std::mutex mutex;
  static std::vector<asio::ip::address> cached;
  static Clock::time_point fetched{};
  std::lock_guard lock(mutex);
  if (fetched != Clock::time_point{} && Clock::now() - fetched < std::chrono::seconds(5)) return cached;
  std::vector<asio::ip::address> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (auto* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr) continue;
      if (i->ifa_addr->sa_family == AF_INET) {
        auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
        out.push_back(asio::ip::address_v4(ntohl(sin->sin_addr.s_addr)));
      } else if (i->ifa_addr->sa_family == AF_INET6) {
        auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
        asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), &sin6->sin6_addr, 16);
        out.push_back(asio::ip::address_v6(b));
      }
    }
    freeifaddrs(list);
  }
  cached = std::move(out);
  fetched = Clock::now();
  return cached;
}

} // namespace hopgate::frontend
