#include "hopgate/routing/domain_index.hpp"
#include "hopgate/routing/rule_list.hpp"

namespace hopgate::routing {

namespace {
bool has_wildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }
} // namespace

DomainPattern DomainPattern::classify(std::string_view pattern) {
  if (pattern.starts_with("*.") && !has_wildcard(pattern.substr(2))) return {Kind::subdomains, pattern.substr(2)};
  if (pattern.starts_with('.') && !has_wildcard(pattern.substr(1)))
    return {Kind::domain_and_subdomains, pattern.substr(1)};
  if (has_wildcard(pattern)) return {Kind::glob, pattern};
  return {Kind::exact, pattern};
}

bool glob_matches(std::string_view pattern, std::string_view name) {
  // Iterative matcher: on a mismatch, retry from the last '*' with one more character swallowed.
  // Worst case O(pattern * name), no recursion.
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool host_needs_normalizing(std::string_view host) {
  if (!host.empty() && host.back() == '.') return true;
  for (char c : host)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

bool DomainIndex::add(std::string_view pattern, std::uint32_t rule) {
  auto p = DomainPattern::classify(pattern);
  if (p.kind == DomainPattern::Kind::glob) return false;
  auto it = entries_.find(p.key);
  if (it == entries_.end()) it = entries_.emplace(std::string(p.key), Entry{}).first;
  switch (p.kind) {
  case DomainPattern::Kind::exact: add_rule(it->second.exact, rule); break;
  case DomainPattern::Kind::subdomains: add_rule(it->second.subdomains, rule); break;
  case DomainPattern::Kind::domain_and_subdomains: add_rule(it->second.domain_and_subdomains, rule); break;
  case DomainPattern::Kind::glob: break;
  }
  return true;
}

} // namespace hopgate::routing
