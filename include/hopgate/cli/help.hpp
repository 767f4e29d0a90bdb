#pragma once
// The text of `hopgate --help`, man-page style. docs/cli.md carries the same text verbatim (a test
// compares them), so change both together.
#include <string_view>

namespace hopgate::cli {

std::string_view help_text();

} // namespace hopgate::cli
