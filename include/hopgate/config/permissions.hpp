#pragma once
// Config files hold secrets (user passwords, upstream credentials, the admin token): a file any
// local user can read gives them away. Checked once at start; a warning, not a refusal, since
// a container image or a read-only mount may not let the operator change the mode.
#include "hopgate/config/config.hpp"

#include <optional>
#include <string>
#include <vector>

namespace hopgate::config {

/// What kinds of secret `cfg` holds ("user passwords", "upstream credentials", "the admin
/// token"); empty when none.
std::vector<std::string> secret_kinds(const Config& cfg);

/// A one-line warning when the file at `path` is readable by other users (mode o+r) and `cfg`
/// holds secrets; nullopt otherwise (also when the file cannot be examined). Names no secret.
std::optional<std::string> config_permissions_warning(const std::string& path, const Config& cfg);

/// Logs config_permissions_warning() at warn level, if any (for main()).
void warn_if_world_readable(const std::string& path, const Config& cfg);

} // namespace hopgate::config
