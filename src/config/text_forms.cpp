// The text forms the config uses: upstream URLs, listen addresses, port ranges, JSON pointers.
#include "hopgate/config/loader.hpp"
#include "hopgate/core/target.hpp"

#include <charconv>

namespace hopgate::config {

std::string escape_pointer(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::optional<PortRange> parse_port_range(std::string_view text) {
  auto num = [](std::string_view s, unsigned& v) {
    if (s.empty() || s.size() > 5) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && p == s.data() + s.size() && v >= 1 && v <= 65535;
  };
  unsigned a = 0, b = 0;
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!num(text, a)) return std::nullopt;
    b = a;
  } else if (!num(text.substr(0, dash), a) || !num(text.substr(dash + 1), b) || a > b) {
    return std::nullopt;
  }
  return PortRange{static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)};
}

namespace {
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc{} && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}
} // namespace

std::optional<Hop> parse_hop_url(std::string_view url, std::string& error) {
  Hop hop;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    error = "expected a URL like socks5h://127.0.0.1:9050";
    return std::nullopt;
  }
  auto scheme = url.substr(0, sep);
  if (scheme == "socks4") hop.scheme = Hop::Scheme::socks4;
  else if (scheme == "socks4a") hop.scheme = Hop::Scheme::socks4a;
  else if (scheme == "socks5") hop.scheme = Hop::Scheme::socks5;
  else if (scheme == "socks5h") hop.scheme = Hop::Scheme::socks5h;
  else if (scheme == "http") hop.scheme = Hop::Scheme::http;
  else {
    error = "unknown scheme \"" + std::string(scheme) + "\" (expected socks4, socks4a, socks5, socks5h or http)";
    return std::nullopt;
  }
  auto rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('?') != std::string_view::npos) {
    error = "an upstream URL has no path";
    return std::nullopt;
  }
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    auto cred = rest.substr(0, at);
    auto colon = cred.find(':');
    hop.username = percent_decode(cred.substr(0, colon));
    if (colon != std::string_view::npos) hop.password = percent_decode(cred.substr(colon + 1));
    rest = rest.substr(at + 1);
    if (hop.username.size() > 255 || hop.password.size() > 255) {
      error = "user name and password are limited to 255 bytes";
      return std::nullopt;
    }
    if (hop.scheme == Hop::Scheme::socks4 || hop.scheme == Hop::Scheme::socks4a) {
      if (!hop.password.empty()) {
        error = "SOCKS4 has no password (only a user id)";
        return std::nullopt;
      }
    }
  }
  auto target = TargetAddress::parse(rest);
  if (!target || target->port == 0) {
    error = "expected host:port after the scheme (e.g. socks5h://127.0.0.1:9050)";
    return std::nullopt;
  }
  hop.host = target->host();
  hop.port = target->port;
  return hop;
}

std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view text, std::string& error) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "bad listen address \"" + std::string(text) + "\" (expected [v6]:port)";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.substr(0, colon).find(':') != std::string_view::npos) {
      error = "bad listen address \"" + std::string(text) + "\" (expected host:port, [v6]:port for IPv6)";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p > 65535) {
    error = "bad port in listen address \"" + std::string(text) + "\" (0-65535; 0 picks a free port)";
    return std::nullopt;
  }
  if (host == "localhost") host = "127.0.0.1";
  if (host == "*" || host.empty()) host = "0.0.0.0";
  boost::system::error_code aec;
  auto addr = boost::asio::ip::make_address(std::string(host), aec);
  if (aec) {
    error = "listen host must be an IP address, got \"" + std::string(host) + "\"";
    return std::nullopt;
  }
  return boost::asio::ip::tcp::endpoint(addr, static_cast<std::uint16_t>(p));
}

} // namespace hopgate::config
