#pragma once
// Reader: walks a config document collecting every error with its JSON path, so that one load
// reports them all. Shared by the loader's sections (config/sections.hpp); not used elsewhere.
#include "hopgate/config/config.hpp"
#include "hopgate/config/loader.hpp"

#include <functional>
#include <optional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace hopgate::config {

using nlohmann::json;

inline std::string type_name(const json& j) { return j.type_name(); }

/// Every read checks the type and reports a mismatch at its path; parsing goes on after an error.
class Reader {
public:
  std::vector<ConfigError> errors;

  void error(const std::string& path, std::string message) { errors.push_back({path, std::move(message)}); }

  static std::string at(const std::string& path, std::string_view key) { return path + "/" + escape_pointer(key); }
  static std::string at(const std::string& path, std::size_t i) { return path + "/" + std::to_string(i); }

  /// Reports keys not in `known`; returns false if `j` is not an object.
  bool object(const json& j, const std::string& path, std::initializer_list<std::string_view> known);
  bool string(const json& j, const std::string& path, std::string& out);
  bool boolean(const json& j, const std::string& path, bool& out);
  template <class T> bool unsigned_number(const json& j, const std::string& path, T& out, T max) {
    if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<long long>() >= 0)) {
      error(path, "expected a non-negative integer, got " + (j.is_number() ? j.dump() : type_name(j)));
      return false;
    }
    auto v = j.get<unsigned long long>();
    if (v > static_cast<unsigned long long>(max)) {
      error(path, "must be at most " + std::to_string(max));
      return false;
    }
    out = static_cast<T>(v);
    return true;
  }
  bool seconds(const json& j, const std::string& path, Seconds& out);

  /// A string or an array of strings, each passed to `each` with its path.
  void strings(const json& j, const std::string& path, const std::function<void(const std::string&, const std::string&)>& each);
  void cidrs(const json& j, const std::string& path, std::vector<Cidr>& out); ///< "10.0.0.0/8" or a list
  void ports(const json& j, const std::string& path, std::vector<PortRange>& out); ///< 80, "8000-8999" or a list of them
  void protocols(const json& j, const std::string& path, std::vector<Protocol>& out); ///< "http" / "socks" or a list
  /// "direct", "block", an upstream name or a list of them (a chain).
  Via via(const json& j, const std::string& path);
};

} // namespace hopgate::config
