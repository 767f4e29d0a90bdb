#include "hopgate/config/permissions.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <cstdio>

namespace hopgate::config {

std::vector<std::string> secret_kinds(const Config& cfg) {
  std::vector<std::string> out;
  bool passwords = false;
  for (auto& u : cfg.users) passwords = passwords || !u.password.empty();
  if (passwords) out.push_back("user passwords");
  bool upstream = false;
  for (auto& u : cfg.upstreams)
    if (auto* h = std::get_if<Hop>(&u.kind)) upstream = upstream || !h->password.empty() || !h->username.empty();
  if (upstream) out.push_back("upstream credentials");
  if (auto* admin = cfg.listeners.admin(); admin && !admin->token.empty()) out.push_back("the admin token");
  return out;
}

std::optional<std::string> config_permissions_warning(const std::string& path, const Config& cfg) {
  if (path.empty()) return std::nullopt;
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  if (!(st.st_mode & S_IROTH)) return std::nullopt;
  auto kinds = secret_kinds(cfg);
  if (kinds.empty()) return std::nullopt;
  std::string what;
  for (std::size_t i = 0; i < kinds.size(); ++i)
    what += (i == 0 ? "" : i + 1 == kinds.size() ? " and " : ", ") + kinds[i];
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return "config file " + path + " is readable by every local user (mode " + mode + ") and holds " + what +
         ": chmod o-r " + path;
}

void warn_if_world_readable(const std::string& path, const Config& cfg) {
  if (auto w = config_permissions_warning(path, cfg)) spdlog::warn("{}", *w);
}

} // namespace hopgate::config
