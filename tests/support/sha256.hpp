#pragma once
// A small streaming SHA-256 (FIPS 180-4) and a deterministic byte generator shared by the
// origin servers and the tests, so that large transfers can be checked by digest.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::test {

class Sha256 {
public:
  /// allow_hardware: use the CPU's SHA extensions when it has them (the portable code otherwise).
  explicit Sha256(bool allow_hardware = true);
  /// True when this CPU has the SHA extensions used by the fast path.
  static bool hardware_available();
  void update(const void* data, std::size_t n);
  void update(std::span<const std::uint8_t> data) { update(data.data(), data.size()); }
  void update(std::string_view data) { update(data.data(), data.size()); }
  /// Finishes the digest; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> final();
  std::string hex_final();

private:
  void blocks(const std::uint8_t* p, std::size_t nblocks);
  void block(const std::uint8_t* p);
  bool hardware_ = false;
  std::uint32_t h_[8];
  std::uint8_t buf_[64];
  std::size_t buf_len_ = 0;
  std::uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
std::string sha256_hex(std::span<const std::uint8_t> data);

/// An endless deterministic pseudo-random byte stream (splitmix64). The bytes do not depend on how
/// the stream is cut into fill() calls.
class DeterministicStream {
public:
  explicit DeterministicStream(std::uint64_t seed) : state_(seed) {}
  void fill(std::uint8_t* out, std::size_t n);

private:
  std::uint64_t next();
  std::uint64_t state_;
  std::uint8_t word_[8]{};
  unsigned used_ = 8; ///< bytes of word_ already handed out
};

/// The first n bytes of DeterministicStream(seed).
std::vector<std::uint8_t> deterministic_bytes(std::uint64_t seed, std::size_t n);

/// SHA-256 hex of the first n bytes of DeterministicStream(seed), computed in chunks.
std::string deterministic_sha256(std::uint64_t seed, std::size_t n);

} // namespace hopgate::test
