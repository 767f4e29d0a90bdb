#pragma once
// The configuration as plain structs. Loading and validation live in config/loader.hpp;
// every field here has its documented default (README.md, "Config reference").
#include "hopgate/core/cidr.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hopgate::config {

using Seconds = std::chrono::duration<double>;

enum class AuthMode { none, password, optional };
enum class Protocol { http, socks };

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  bool contains(std::uint16_t p) const { return p >= first && p <= last; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

/// What a listener serves. A front end (http, socks) routes what it accepts; admin serves the
/// admin API. The coming transparent and dns kinds join this list (frontend/listener.hpp).
enum class ListenerKind { http, socks, admin };

/// One named listener: "listeners": {"NAME": {"kind": ..., "listen": [...], ...}}. The names
/// http, socks and admin need no "kind": they are of that kind (every config written before
/// listeners had names keeps its meaning).
struct Listener {
  std::string name;                                   ///< its key under /listeners
  ListenerKind kind = ListenerKind::http;
  std::vector<boost::asio::ip::tcp::endpoint> listen; ///< port 0 picks a free port
  AuthMode auth = AuthMode::none;                     ///< http/socks only
  std::vector<Protocol> protocols;                    ///< what the port speaks; sniffed by first byte when both
  std::string token;                                  ///< admin only: bearer token
  std::vector<Cidr> allow;                            ///< client CIDRs let in (empty: everyone)
  std::vector<Cidr> deny;                             ///< client CIDRs refused
  bool open_proxy = false;                            ///< acknowledge a public, unauthenticated listener
  std::vector<std::string> hosts;        ///< admin only: Host names accepted besides IP literals and localhost (normalized)
  std::vector<std::string> cors_origins; ///< admin only: origins whose pages may call the API (normalized)
  bool private_network = false;          ///< admin only: answer Private Network Access preflights for cors_origins

  /// Whether a client at `a` may connect: not in `deny`, and in `allow` when that is not empty.
  bool admits(const boost::asio::ip::address& a) const;
};

struct Listeners {
  std::vector<Listener> all; ///< sorted by name (the document's object order)

  const Listener* find(std::string_view name) const;
  /// The listeners named http and socks (of those kinds), when present.
  const Listener* http() const { return find("http"); }
  const Listener* socks() const { return find("socks"); }
  /// The admin API's listener (there is at most one), when present.
  const Listener* admin() const;
};

struct User {
  std::string name;
  std::string password;
};

/// One upstream proxy hop, from a URL with curl's meaning of the scheme.
struct Hop {
  enum class Scheme { socks4, socks4a, socks5, socks5h, http };
  Scheme scheme = Scheme::socks5h;
  std::string host;
  std::uint16_t port = 0;
  std::string username;
  std::string password;
  bool pass_client_credentials = false; ///< "auth": "client" (Tor stream isolation)
  std::optional<Seconds> connect_timeout;

  /// True when the hop takes a domain name unresolved (socks4a, socks5h, http).
  bool remote_dns() const { return scheme == Scheme::socks4a || scheme == Scheme::socks5h || scheme == Scheme::http; }
  /// scheme://host:port with no credentials (safe to log).
  std::string display() const;
};

/// A set of upstreams that stands for one; members are upstream names.
struct Group {
  enum class Strategy { failover, round_robin, least_connections, random, hash };
  enum class HashKey { target, client, user };
  std::vector<std::string> members;
  Strategy strategy = Strategy::failover;
  HashKey hash_key = HashKey::target;
  unsigned max_fails = 1;
  Seconds fail_window{30};
  Seconds probe_interval{0}; ///< 0: no active probing
  std::string probe;         ///< host:port the probe connects to through the member
};

/// A single hop and the upstream name it goes by (pointers into the Config).
struct NamedHop {
  const std::string* name;
  const Hop* hop;
};

/// A named chain of single hops, first hop first: one upstream that a route or a group can use
/// like any other (a group member that is a chain is tried, and marked down, as a whole).
struct Chain {
  std::vector<std::string> hops; ///< names of single-hop upstreams
};

struct Upstream {
  std::string name;
  std::variant<Hop, Group, Chain> kind;
};

/// What a route does: go direct, block, or go through a chain of upstreams (first hop first).
struct Via {
  enum class Kind { direct, block, chain };
  Kind kind = Kind::direct;
  std::vector<std::string> chain; ///< upstream names, for Kind::chain
  std::string display() const;
};

struct Match {
  std::vector<std::string> domain; ///< exact, "*.suffix", ".suffix", or glob; normalised
  std::vector<Cidr> cidr;
  std::vector<PortRange> port;
  std::vector<Protocol> frontend;      ///< "frontend": "http" / "socks": the protocol the client spoke
  std::vector<std::string> listener;  ///< "frontend": a listener's name: the listener it came in on
  std::vector<Cidr> client;
  std::vector<std::string> user;
  bool empty() const {
    return domain.empty() && cidr.empty() && port.empty() && frontend.empty() && listener.empty() && client.empty() &&
           user.empty();
  }
};

enum class RemoteDns { any, required };

struct Route {
  std::string name; ///< optional; defaults to "routes[i]"
  Match match;
  Via via;
  bool resolve = false; ///< match cidr against a domain's resolved addresses
  RemoteDns remote_dns = RemoteDns::any;
  std::vector<PortRange> allow_ports; ///< empty: all ports
};

struct Timeouts {
  Seconds handshake{10};
  Seconds connect{10};
  Seconds idle{300};
  Seconds shutdown_grace{10};
  Seconds bind{120};
  Seconds http_request{30};   ///< time to receive a request head
  Seconds http_keepalive{60}; ///< idle client connection between requests
};

struct HttpOptions {
  std::string via = "1.1 hopgate"; ///< empty: no Via header
  bool x_forwarded_for = false;
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t pool_max_idle_per_origin = 8;
  Seconds pool_idle_timeout{30};
};

struct Limits {
  std::size_t max_connections = 0;            ///< 0: unlimited
  std::size_t max_connections_per_client = 0; ///< 0: unlimited
};

/// SOCKS5 UDP ASSOCIATE relays ("udp" section).
struct Udp {
  std::optional<PortRange> port_range;           ///< relay ports taken from here; nullopt: ephemeral
  std::size_t max_associations = 1024;           ///< in the whole process; 0: unlimited
  std::size_t max_associations_per_client = 16;  ///< per client IP; 0: unlimited
  std::size_t max_datagram = 65507;              ///< largest payload relayed (bytes, without the SOCKS header)
  Seconds idle_timeout{120};                     ///< an association with no datagrams either way ends
};

struct Dns {
  std::vector<boost::asio::ip::udp::endpoint> servers; ///< empty: the system resolver
  std::size_t cache_size = 4096;
  Seconds cache_max_ttl{300};
  std::size_t max_concurrent_lookups = 256; ///< lookups in flight in the process (cache misses); 0: unlimited
};

struct Log {
  std::string level = "info";
  std::string format = "text";
};

struct Config {
  Listeners listeners;
  std::vector<User> users;
  std::vector<Upstream> upstreams; ///< in file order
  std::vector<Route> routes;
  Via default_via;
  Timeouts timeouts;
  HttpOptions http;
  Limits limits;
  Udp udp;
  Dns dns;
  Log log;
  unsigned workers = 0; ///< 0: one per core
  bool deny_private_targets = false; ///< refuse loopback/private/link-local targets (SSRF protection)

  const Upstream* find_upstream(std::string_view name) const;
  /// The single hops an upstream can begin (first_hops) or end (last_hops) with: itself (a hop),
  /// its first or last hop (a chain), or that of each member (a group). The first hop decides
  /// what is resolved locally; the last one what it can be asked to do (BIND, UDP, DNS).
  std::vector<const Hop*> first_hops(const Upstream& up) const;
  std::vector<const Hop*> last_hops(const Upstream& up) const;
  /// The single hops an upstream stands for, in order (a chain's hops; one for a hop; none for a group).
  std::vector<NamedHop> hops_of(const Upstream& up) const;
  /// hops_of(up).back() without building the list (per request and per datagram); nullptr when empty.
  const Hop* last_hop_of(const Upstream& up) const;
  const User* find_user(std::string_view name) const;
};

std::string_view to_string(Protocol p);
std::string_view to_string(ListenerKind k);
std::string_view to_string(Hop::Scheme s);

} // namespace hopgate::config
