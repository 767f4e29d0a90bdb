#pragma once
// Finding the external programs the integration tests drive (curl, microsocks, danted, tinyproxy).
#include <optional>
#include <string>
#include <vector>

namespace hopgate::test {

/// Full path of an executable `name`, searched in PATH and /usr/sbin, /usr/bin, /sbin, /bin,
/// /usr/local/bin, /usr/local/sbin. nullopt when there is none.
std::optional<std::string> find_tool(const std::string& name);

/// Like find_tool, but a missing tool fails the current test (ADD_FAILURE) and throws
/// std::runtime_error("NAME not found: apt-get install PACKAGE"), so a test never passes without it.
std::string require_tool(const std::string& name, const std::string& debian_package);

/// The first of several alternative names (e.g. {"danted", "sockd"}); fails like require_tool,
/// naming the first alternative.
std::string require_tool(const std::vector<std::string>& names, const std::string& debian_package);

} // namespace hopgate::test
