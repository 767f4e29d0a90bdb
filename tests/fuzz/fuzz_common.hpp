#pragma once
// Shared pieces of the fuzz targets. A target checks properties, not just "no crash": a
// violated one calls fuzz_fail(), which aborts with the message (libFuzzer then saves the input).
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

namespace hopgate::fuzz {

[[noreturn]] inline void fuzz_fail(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

#define FUZZ_CHECK(cond)                                                                                                 \
  do {                                                                                                                  \
    if (!(cond)) ::hopgate::fuzz::fuzz_fail(#cond " (" __FILE__ ":" FUZZ_STR(__LINE__) ")");                           \
  } while (0)
#define FUZZ_STR2(x) #x
#define FUZZ_STR(x) FUZZ_STR2(x)

using Span = std::span<const std::uint8_t>;

/// The decode contract of the codecs (STYLE habit 3): success consumes 1..size bytes; need_more
/// and errors consume nothing; a prefix of a decodable message is need_more or the same error.
template <class Decode> std::size_t check_decode_contract(Span in, Decode decode, boost::system::error_code& ec) {
  std::size_t n = decode(in, ec);
  if (ec) FUZZ_CHECK(n == 0);
  else FUZZ_CHECK(n >= 1 && n <= in.size());
  return n;
}

inline std::string_view as_text(Span in) { return {reinterpret_cast<const char*>(in.data()), in.size()}; }

} // namespace hopgate::fuzz
