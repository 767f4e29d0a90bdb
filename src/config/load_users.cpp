// The /users section: the names and passwords that password auth (RFC 1929, Basic) accepts.
#include "hopgate/config/sections.hpp"

namespace hopgate::config {

void load_users(Reader& r, const json& doc, Config& c) {
  if (!doc.contains("users")) return;
  const auto& U = doc["users"];
  if (!U.is_array()) r.error("/users", "expected an array of {\"name\", \"password\"}");
  else
    for (std::size_t i = 0; i < U.size(); ++i) {
      auto p = Reader::at("/users", i);
      if (!r.object(U[i], p, {"name", "password"})) continue;
      User u;
      if (!U[i].contains("name")) r.error(Reader::at(p, "name"), "missing");
      else r.string(U[i]["name"], Reader::at(p, "name"), u.name);
      if (!U[i].contains("password")) r.error(Reader::at(p, "password"), "missing");
      else r.string(U[i]["password"], Reader::at(p, "password"), u.password);
      if (u.name.size() > 255 || u.password.size() > 255) r.error(p, "name and password are limited to 255 bytes (RFC 1929)");
      if (!u.name.empty() && c.find_user(u.name)) r.error(Reader::at(p, "name"), "duplicate user \"" + u.name + "\"");
      if (U[i].contains("name") && u.name.empty()) r.error(Reader::at(p, "name"), "empty user name");
      c.users.push_back(std::move(u));
    }
}

} // namespace hopgate::config
