#pragma once
// DomainIndex: exact and suffix domain patterns → the sorted rule indices that carry them, so a
// lookup costs one hash probe per label of the request host whatever the number of patterns.
// Glob patterns are not indexed; the route table scans those.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hopgate::routing {

/// How a (normalised) domain pattern matches; `key` is the name the pattern is anchored on.
struct DomainPattern {
  enum class Kind {
    exact,                 ///< "example.com": the name itself
    subdomains,            ///< "*.example.com": strict subdomains only
    domain_and_subdomains, ///< ".example.com": the name and its subdomains
    glob,                  ///< anything else with '*' or '?': over the whole name
  };
  Kind kind = Kind::exact;
  std::string_view key; ///< the name without "*." / "." for suffix kinds; the whole pattern otherwise

  static DomainPattern classify(std::string_view pattern);
};

/// '*' matches any run of characters (dots included, possibly empty), '?' exactly one.
bool glob_matches(std::string_view pattern, std::string_view name);

/// True when `host` needs normalize_host() (an upper-case letter or a trailing dot).
bool host_needs_normalizing(std::string_view host);

class DomainIndex {
public:
  /// Indexes a normalised non-glob pattern for `rule`; returns false (and indexes nothing) for a glob.
  /// Rules must be added in increasing order so that every list stays sorted.
  bool add(std::string_view pattern, std::uint32_t rule);

  bool empty() const { return entries_.empty(); }

  /// Calls fn(std::span<const std::uint32_t>) for each non-empty sorted list of rules having a
  /// pattern that matches the normalised `host`: "a.b.c" probes "a.b.c", then "b.c", then "c".
  template <class Fn> void for_each_match(std::string_view host, Fn&& fn) const {
    if (entries_.empty() || host.empty()) return;
    if (auto it = entries_.find(host); it != entries_.end()) {
      emit(it->second.exact, fn);
      emit(it->second.domain_and_subdomains, fn);
    }
    for (auto dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
      if (auto it = entries_.find(host.substr(dot + 1)); it != entries_.end()) {
        emit(it->second.subdomains, fn);
        emit(it->second.domain_and_subdomains, fn);
      }
    }
  }

private:
  struct Entry {
    std::vector<std::uint32_t> exact;
    std::vector<std::uint32_t> subdomains;
    std::vector<std::uint32_t> domain_and_subdomains;
  };
  // Transparent hash so that lookups take a string_view slice of the host without copying.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  template <class Fn> static void emit(const std::vector<std::uint32_t>& rules, Fn& fn) {
    if (!rules.empty()) fn(std::span<const std::uint32_t>(rules));
  }

  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

} // namespace hopgate::routing
