#include "hopgate/config/reader.hpp"

namespace hopgate::config {

bool Reader::object(const json& j, const std::string& path, std::initializer_list<std::string_view> known) {
  if (!j.is_object()) {
    error(path, "expected an object, got " + type_name(j));
    return false;
  }
  for (auto& [k, v] : j.items()) {
    bool ok = false;
    for (auto n : known) ok = ok || n == k;
    if (!ok) error(at(path, k), "unknown key");
  }
  return true;
}

bool Reader::string(const json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) {
    error(path, "expected a string, got " + type_name(j));
    return false;
  }
  out = j.get<std::string>();
  return true;
}

bool Reader::boolean(const json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) {
    error(path, "expected true or false, got " + type_name(j));
    return false;
  }
  out = j.get<bool>();
  return true;
}

bool Reader::seconds(const json& j, const std::string& path, Seconds& out) {
  if (!j.is_number() || j.get<double>() < 0) {
    error(path, "expected a non-negative number of seconds, got " + (j.is_number() ? j.dump() : type_name(j)));
    return false;
  }
  out = Seconds(j.get<double>());
  return true;
}

void Reader::strings(const json& j, const std::string& path, const std::function<void(const std::string&, const std::string&)>& each) {
  if (j.is_string()) {
    each(j.get<std::string>(), path);
    return;
  }
  if (!j.is_array()) {
    error(path, "expected a string or an array of strings, got " + type_name(j));
    return;
  }
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) error(at(path, i), "expected a string, got " + type_name(j[i]));
    else each(j[i].get<std::string>(), at(path, i));
  }
}

void Reader::cidrs(const json& j, const std::string& path, std::vector<Cidr>& out) {
  strings(j, path, [&](const std::string& s, const std::string& p) {
    if (auto c = Cidr::parse(s)) out.push_back(*c);
    else error(p, "bad CIDR \"" + s + "\" (expected e.g. 10.0.0.0/8 or fd00::/8)");
  });
}

void Reader::ports(const json& j, const std::string& path, std::vector<PortRange>& out) {
  auto one = [&](const std::string& s, const std::string& p) {
    if (auto r = parse_port_range(s)) out.push_back(*r);
    else error(p, "bad port \"" + s + "\" (expected 1-65535 or a range like \"8000-8999\")");
  };
  if (j.is_number_integer()) {
    one(j.dump(), path);
    return;
  }
  if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (j[i].is_number_integer()) one(j[i].dump(), at(path, i));
      else if (j[i].is_string()) one(j[i].get<std::string>(), at(path, i));
      else error(at(path, i), "expected a port number or range string, got " + type_name(j[i]));
    }
    return;
  }
  strings(j, path, one);
}

void Reader::protocols(const json& j, const std::string& path, std::vector<Protocol>& out) {
  strings(j, path, [&](const std::string& s, const std::string& p) {
    if (s == "http") out.push_back(Protocol::http);
    else if (s == "socks") out.push_back(Protocol::socks);
    else error(p, "unknown front end \"" + s + "\" (expected \"http\" or \"socks\")");
  });
}

Via Reader::via(const json& j, const std::string& path) {
  Via v;
  if (j.is_string()) {
    auto s = j.get<std::string>();
    if (s == "direct") v.kind = Via::Kind::direct;
    else if (s == "block") v.kind = Via::Kind::block;
    else if (s.empty()) error(path, "empty upstream name");
    else {
      v.kind = Via::Kind::chain;
      v.chain = {s};
    }
  } else if (j.is_array()) {
    v.kind = Via::Kind::chain;
    if (j.empty()) error(path, "empty chain (use \"direct\")");
    strings(j, path, [&](const std::string& s, const std::string& p) {
      if (s == "direct" || s == "block") error(p, "\"" + s + "\" cannot be a hop in a chain");
      v.chain.push_back(s);
    });
  } else {
    error(path, "expected \"direct\", \"block\", an upstream name or a list of upstream names, got " + type_name(j));
  }
  return v;
}

} // namespace hopgate::config
