// Config's own methods (the loader that builds a Config is loader.cpp).
#include "hopgate/config/config.hpp"

namespace hopgate::config {

bool Listener::admits(const boost::asio::ip::address& a) const {
  for (auto& c : deny)
    if (c.contains(a)) return false;
  if (allow.empty()) return true;
  for (auto& c : allow)
    if (c.contains(a)) return true;
  return false;
}

} // namespace hopgate::config
