#include "hopgate/core/secret.hpp"

#include <algorithm>
#include <cstddef>

namespace hopgate {

bool secret_equals(std::string_view given, std::string_view expected) {
  const std::size_t n = std::max(given.size(), expected.size());
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    // Reading past the shorter text reads 0 instead: a select, not a branch on secret bytes.
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    unsigned char e = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ e);
  }
  // Through a volatile, so that the compiler cannot turn the fold into an early exit.
  volatile unsigned char sink = diff;
  return sink == 0;
}

} // namespace hopgate
