#pragma once
// Base64 (RFC 4648) for HTTP Basic credentials.
#include <optional>
#include <string>
#include <string_view>

namespace hopgate {
std::string base64_encode(std::string_view in);
/// nullopt on characters outside the alphabet or bad padding.
std::optional<std::string> base64_decode(std::string_view in);
} // namespace hopgate
