#include "hopgate/frontend/target_policy.hpp"

#include "hopgate/core/cidr.hpp"
#include "hopgate/core/error.hpp"

#include <spdlog/spdlog.h>

#include <array>

namespace hopgate::frontend {
namespace {

const std::vector<Cidr>& private_networks() {
  static const std::vector<Cidr> nets = [] {
    std::vector<Cidr> v;
    for (const char* s : {"0.0.0.0/8",       "10.0.0.0/8",      "100.64.0.0/10",  "127.0.0.0/8",   "169.254.0.0/16",
                          "172.16.0.0/12",   "192.0.0.0/24",    "192.0.2.0/24",   "192.168.0.0/16", "198.18.0.0/15",
                          "198.51.100.0/24", "203.0.113.0/24",  "224.0.0.0/4",    "240.0.0.0/4",    "::/128",
                          "::1/128",         "fc00::/7",        "fe80::/10",      "fec0::/10",      "ff00::/8",
                          "100::/64",        "2001:db8::/32"})
      v.push_back(*Cidr::parse(s));
    return v;
  }();
  return nets;
}

/// The IPv4 address inside a NAT64 address (64:ff9b::/96), if it is one.
std::optional<asio::ip::address_v4> nat64_inner(const asio::ip::address& a) {
  if (!a.is_v6()) return std::nullopt;
  auto b = a.to_v6().to_bytes();
  static constexpr std::array<std::uint8_t, 12> prefix{0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (!std::equal(prefix.begin(), prefix.end(), b.begin())) return std::nullopt;
  return asio::ip::address_v4(asio::ip::address_v4::bytes_type{b[12], b[13], b[14], b[15]});
}

/// The upstream hops a via starts with (a group stands for each of its members).
std::vector<const config::Hop*> first_hops(const config::Config& cfg, const config::Via& via) {
  if (via.kind != config::Via::Kind::chain || via.chain.empty()) return {};
  const auto* up = cfg.find_upstream(via.chain.front());
  return up ? cfg.first_hops(*up) : std::vector<const config::Hop*>{};
}

} // namespace

bool is_private_address(const asio::ip::address& a) {
  auto u = unmap_v4(a);
  if (auto inner = nat64_inner(u)) u = *inner;
  if (u.is_v4() && u.to_v4() == asio::ip::address_v4::broadcast()) return true;
  for (auto& n : private_networks())
    if (n.contains(u)) return true;
  return false;
}

bool is_localhost_name(std::string_view host) {
  auto h = normalize_host(host);
  return h == "localhost" || (h.size() > 10 && h.ends_with(".localhost"));
}

std::optional<std::string> target_refusal(const OwnEndpoints& own, bool deny_private, const TargetAddress& target,
                                          std::span<const asio::ip::address> resolved) {
  // The addresses the target stands for (asked per request and per connect: no allocation).
  std::array<asio::ip::address, 2> fixed;
  std::span<const asio::ip::address> addresses = resolved;
  if (target.ip) {
    fixed[0] = *target.ip;
    addresses = std::span(fixed).first(1);
  } else if (is_localhost_name(target.domain)) {
    fixed = {asio::ip::address_v4::loopback(), asio::ip::address_v6::loopback()};
    addresses = fixed;
  }
  for (auto& a : addresses) {
    if (own.reaches(a, target.port)) return "the target " + target.to_string() + " is hopgate's own listener";
  }
  if (deny_private)
    for (auto& a : addresses)
      if (is_private_address(a))
        return "deny_private_targets: " + target.to_string() +
               (target.ip ? "" : " resolves to " + a.to_string()) + " (a private, loopback or link-local address)";
  return std::nullopt;
}

awaitable<bool> refuse_request(SessionContext& ctx, const routing::Snapshot& snapshot, const observe::Connection& conn,
                               const TargetAddress& target, const routing::Decision& decision, Refusal& refusal) {
  auto refuse = [&](ProxyError e, std::string where, std::string detail) {
    refusal.ec = e;
    refusal.where = std::move(where);
    refusal.detail = std::move(detail);
    spdlog::debug("conn {} refused: {}", conn.id, refusal.detail);
    return true;
  };
  auto& guard = ctx.shared.guard;
  if (auto which = guard.connections.over_limit_of(conn.id))
    co_return refuse(ProxyError::over_limit, "limits", *which + " reached: new connections wait until others close");

  const auto& cfg = *snapshot.config;
  // A route whose first hop is hopgate itself would send the request round in circles.
  for (const auto* hop : first_hops(cfg, decision.via)) {
    auto t = TargetAddress::from_host(hop->host, hop->port);
    if (target_refusal(guard.own, false, t))
      co_return refuse(ProxyError::not_allowed, "route " + decision.rule_name(),
                       "its first hop " + hop->display() + " is hopgate's own listener (a proxy loop)");
  }

  std::vector<asio::ip::address> resolved;
  bool direct = decision.via.kind == config::Via::Kind::direct;
  // Resolve a name here only when the answer can change the outcome: the dialer's own lookup
  // that follows is then answered from the same resolver's cache.
  if (target.is_domain() && direct && !is_localhost_name(target.domain) &&
      (cfg.deny_private_targets || guard.own.has_port(target.port))) {
    auto res = co_await ctx.worker.resolver.resolve(target.domain, &cfg.dns);
    resolved = std::move(res.addresses);
  }
  if (auto why = target_refusal(guard.own, cfg.deny_private_targets, target, resolved))
    co_return refuse(ProxyError::not_allowed, "policy", std::move(*why));
  co_return false;
}

} // namespace hopgate::frontend
