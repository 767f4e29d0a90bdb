#pragma once
// The rule lists the domain and CIDR indexes keep per pattern: rule indexes, ascending, each once.
#include <cstdint>
#include <vector>

namespace hopgate::routing {

/// Rules are added in table order, so appending keeps the list sorted; a rule that names the
/// same pattern twice is kept once.
inline void add_rule(std::vector<std::uint32_t>& rules, std::uint32_t rule) {
  if (rules.empty() || rules.back() != rule) rules.push_back(rule);
}

} // namespace hopgate::routing
