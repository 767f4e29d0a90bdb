#pragma once
// Process-wide limits that protect hopgate from its clients: open connections in total and per
// client address, DNS lookups in flight, and the set of addresses hopgate itself listens on
// (which no request may target: see target_policy.hpp).
//
// A connection over a connection limit is still accepted, so that it can be told why in its own
// protocol (SOCKS 0x01, HTTP 503) instead of hanging in the kernel's backlog or seeing a bare
// reset; its request is refused when it arrives. Such flagged connections are few by
// construction: beyond `over_limit_backlog` of them a new one is closed at accept.
#include "hopgate/core/asio.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hopgate::frontend {

/// Connections open in total and per client address (IPv4-mapped addresses count as IPv4).
class ConnectionLimits {
public:
  /// Over-limit connections waiting to be told so; more than this are closed at accept.
  static constexpr std::size_t over_limit_backlog = 256;

  /// What accept decided about one connection; releases its count when destroyed.
  class Slot {
  public:
    Slot() = default;
    Slot(Slot&& o) noexcept { *this = std::move(o); }
    Slot& operator=(Slot&& o) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }

    /// Over a limit: the request is to be refused with over_limit.
    bool over_limit() const { return over_; }
    /// Over a limit and the over-limit backlog is full: close without a word.
    bool refused() const { return refused_; }
    /// Which limit: "max_connections" or "max_connections_per_client" (empty when within both).
    const std::string& which() const { return which_; }
    void release();

  private:
    friend class ConnectionLimits;
    ConnectionLimits* owner_ = nullptr;
    std::string key_;
    std::uint64_t id_ = 0;
    bool counted_ = false;
    bool over_ = false;
    bool refused_ = false;
    std::string which_;
  };

  /// Counts connection `id` from `client` against the limits (0: unlimited).
  Slot acquire(const asio::ip::address& client, std::uint64_t id, std::size_t max_total, std::size_t max_per_client);
  /// True while connection `id` holds an over-limit slot.
  bool is_over(std::uint64_t id) const { return over_limit_of(id).has_value(); }
  /// Which limit connection `id` is over ("max_connections", ...), or nullopt.
  std::optional<std::string> over_limit_of(std::uint64_t id) const;
  /// Counted (within-limit) connections, in total and from one address.
  std::size_t total() const;
  std::size_t from(const asio::ip::address& client) const;

private:
  static std::string key_of(const asio::ip::address& a);
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_client_;
  std::unordered_map<std::uint64_t, std::string> over_; ///< flagged connection -> which limit
  std::atomic<std::size_t> over_size_{0};                ///< over_.size(), read without the lock
};

/// The addresses hopgate listens on (front ends and admin API), as bound. Requests for them are
/// refused: a proxy loop, or a way around the admin API's loopback-only default.
class OwnEndpoints {
public:
  void add(const tcp::endpoint& ep);
  std::vector<tcp::endpoint> list() const;
  /// True when one of the listening ports is `port` (a quick filter before any lookup).
  bool has_port(std::uint16_t port) const;
  /// True when a connection to a:port would reach one of hopgate's own listeners: the same
  /// address, or for a wildcard listener (0.0.0.0, [::]) loopback, the unspecified address or
  /// an address of a local interface; 0.0.0.0 / [::] as a target reach the loopback listeners.
  bool reaches(const asio::ip::address& a, std::uint16_t port) const;

private:
  mutable std::mutex mutex_;
  std::vector<tcp::endpoint> endpoints_;
};

/// What hopgate uses to protect itself, shared by every session (frontend::Shared::guard).
struct Guard {
  ConnectionLimits connections;
  OwnEndpoints own;
};

/// Raises RLIMIT_NOFILE, since every tunnel holds two descriptors: first the hard limit when the
/// process may (root, or CAP_SYS_RESOURCE), up to fs.nr_open and at most 1 048 576; then the
/// soft limit to the hard one. Returns the soft limit in force afterwards.
std::uint64_t raise_fd_limit();

/// Addresses of the local interfaces (getifaddrs), refreshed at most every few seconds.
std::vector<asio::ip::address> local_interface_addresses();

} // namespace hopgate::frontend
