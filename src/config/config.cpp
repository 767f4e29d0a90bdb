// Config's own methods (the loader that builds a Config is loader.cpp, one file per section).
#include "hopgate/config/config.hpp"

#include <algorithm>

namespace hopgate::config {

bool Listener::admits(const boost::asio::ip::address& a) const {
  for (auto& c : deny)
    if (c.contains(a)) return false;
  if (allow.empty()) return true;
  for (auto& c : allow)
    if (c.contains(a)) return true;
  return false;
}

std::string Hop::display() const {
  return std::string(to_string(scheme)) + "://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string Via::display() const {
  if (kind == Kind::direct) return "direct";
  if (kind == Kind::block) return "block";
  std::string out;
  for (auto& h : chain) out += (out.empty() ? "" : " -> ") + h;
  return out;
}

const Upstream* Config::find_upstream(std::string_view name) const {
  for (auto& u : upstreams)
    if (u.name == name) return &u;
  return nullptr;
}

std::vector<NamedHop> Config::hops_of(const Upstream& up) const {
  std::vector<NamedHop> out;
  if (auto* h = std::get_if<Hop>(&up.kind)) out.push_back({&up.name, h});
  else if (auto* c = std::get_if<Chain>(&up.kind))
    for (const auto& name : c->hops)
      if (const auto* u = find_upstream(name))
        if (auto* h = std::get_if<Hop>(&u->kind)) out.push_back({&u->name, h});
  return out;
}

const Hop* Config::last_hop_of(const Upstream& up) const {
  if (auto* h = std::get_if<Hop>(&up.kind)) return h;
  if (auto* c = std::get_if<Chain>(&up.kind))
    for (auto it = c->hops.rbegin(); it != c->hops.rend(); ++it)
      if (const auto* u = find_upstream(*it))
        if (auto* h = std::get_if<Hop>(&u->kind)) return h;
  return nullptr;
}

namespace {

/// Each one-hop-or-chain that `up` stands for (itself, or each member of a group), reduced to one
/// of its hops by `pick`.
template <class Pick> std::vector<const Hop*> edge_hops(const Config& c, const Upstream& up, Pick pick) {
  std::vector<const Hop*> out;
  auto take = [&](const Upstream& u) {
    if (auto hops = c.hops_of(u); !hops.empty()) out.push_back(pick(hops));
  };
  if (auto* g = std::get_if<Group>(&up.kind)) {
    for (const auto& m : g->members)
      if (const auto* u = c.find_upstream(m)) take(*u);
  } else {
    take(up);
  }
  return out;
}

} // namespace

std::vector<const Hop*> Config::first_hops(const Upstream& up) const {
  return edge_hops(*this, up, [](const auto& hops) { return hops.front().hop; });
}

std::vector<const Hop*> Config::last_hops(const Upstream& up) const {
  return edge_hops(*this, up, [](const auto& hops) { return hops.back().hop; });
}

const User* Config::find_user(std::string_view name) const {
  for (auto& u : users)
    if (u.name == name) return &u;
  return nullptr;
}

std::string_view to_string(Protocol p) { return p == Protocol::http ? "http" : "socks"; }

std::string_view to_string(ListenerKind k) {
  switch (k) {
  case ListenerKind::http: return "http";
  case ListenerKind::socks: return "socks";
  case ListenerKind::admin: return "admin";
  }
  return "?";
}

const Listener* Listeners::find(std::string_view name) const {
  for (auto& l : all)
    if (l.name == name) return &l;
  return nullptr;
}

const Listener* Listeners::admin() const {
  for (auto& l : all)
    if (l.kind == ListenerKind::admin) return &l;
  return nullptr;
}

std::string_view to_string(Hop::Scheme s) {
  switch (s) {
  case Hop::Scheme::socks4: return "socks4";
  case Hop::Scheme::socks4a: return "socks4a";
  case Hop::Scheme::socks5: return "socks5";
  case Hop::Scheme::socks5h: return "socks5h";
  case Hop::Scheme::http: return "http";
  }
  return "?";
}

} // namespace hopgate::config
