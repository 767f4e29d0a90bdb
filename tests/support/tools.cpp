#include "support/tools.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace hopgate::test {

namespace {

bool is_executable_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

std::vector<std::string> search_dirs() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      if (end > start) dirs.push_back(p.substr(start, end - start));
      start = end + 1;
    }
  }
  for (const char* d : {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"})
    dirs.emplace_back(d);
  return dirs;
}

} // namespace

std::optional<std::string> find_tool(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (is_executable_file(name)) return name;
    return std::nullopt;
  }
  for (auto& d : search_dirs()) {
    std::string p = d + "/" + name;
    if (is_executable_file(p)) return p;
  }
  return std::nullopt;
}

std::string require_tool(const std::vector<std::string>& names, const std::string& debian_package) {
  for (auto& n : names)
    if (auto p = find_tool(n)) return *p;
  std::string msg = (names.empty() ? std::string("tool") : names.front()) + " not found: apt-get install " +
                    debian_package;
  ADD_FAILURE() << msg;
  throw std::runtime_error(msg);
}

std::string require_tool(const std::string& name, const std::string& debian_package) {
  return require_tool(std::vector<std::string>{name}, debian_package);
}

} // namespace hopgate::test
