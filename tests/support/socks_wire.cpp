#include "support/socks_wire.hpp"

#include <arpa/inet.h>
#include <stdexcept>

namespace hopgate::test::socks {

namespace {
void put_port(Bytes& b, std::uint16_t port) {
  b.push_back(static_cast<std::uint8_t>(port >> 8));
  b.push_back(static_cast<std::uint8_t>(port & 0xff));
}
} // namespace

Bytes greeting(std::initializer_list<int> methods) {
  Bytes b{5, static_cast<std::uint8_t>(methods.size())};
  for (int m : methods) b.push_back(static_cast<std::uint8_t>(m));
  return b;
}

Bytes userpass(const std::string& user, const std::string& pass) {
  Bytes b{1, static_cast<std::uint8_t>(user.size())};
  append(b, user);
  b.push_back(static_cast<std::uint8_t>(pass.size()));
  append(b, pass);
  return b;
}

Bytes request(std::uint8_t cmd, const std::string& host, std::uint16_t port) {
  Bytes b{5, cmd, 0};
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    b.push_back(kAtypIpv4);
    auto* p = reinterpret_cast<const std::uint8_t*>(&a4);
    b.insert(b.end(), p, p + 4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    b.push_back(kAtypIpv6);
    auto* p = reinterpret_cast<const std::uint8_t*>(&a6);
    b.insert(b.end(), p, p + 16);
  } else {
    b.push_back(kAtypDomain);
    b.push_back(static_cast<std::uint8_t>(host.size()));
    append(b, host);
  }
  put_port(b, port);
  return b;
}

Bytes socks4_request(std::uint8_t cmd, const std::string& ipv4, std::uint16_t port, const std::string& userid) {
  Bytes b{4, cmd};
  put_port(b, port);
  in_addr a4{};
  if (::inet_pton(AF_INET, ipv4.c_str(), &a4) != 1) throw std::invalid_argument("not IPv4: " + ipv4);
  auto* p = reinterpret_cast<const std::uint8_t*>(&a4);
  b.insert(b.end(), p, p + 4);
  append(b, userid);
  b.push_back(0);
  return b;
}

Bytes socks4a_request(std::uint8_t cmd, const std::string& host, std::uint16_t port, const std::string& userid) {
  Bytes b{4, cmd};
  put_port(b, port);
  b.insert(b.end(), {0, 0, 0, 1});
  append(b, userid);
  b.push_back(0);
  append(b, host);
  b.push_back(0);
  return b;
}

std::optional<Reply5> read_reply5(const Fd& fd, std::chrono::milliseconds timeout, Bytes* partial) {
  Reply5 r;
  auto fail = [&]() -> std::optional<Reply5> {
    if (partial) {
      // Collect whatever else arrives before the close, for the message.
      auto rest = recv_until_close(fd, 200ms);
      append(r.raw, rest.data);
      *partial = r.raw;
    }
    return std::nullopt;
  };
  auto head = recv_exact(fd, 4, timeout);
  if (!head) return fail();
  r.raw = *head;
  r.ver = r.raw[0];
  r.rep = r.raw[1];
  r.rsv = r.raw[2];
  r.atyp = r.raw[3];
  size_t addr_len = 0;
  if (r.atyp == kAtypIpv4) addr_len = 4;
  else if (r.atyp == kAtypIpv6) addr_len = 16;
  else if (r.atyp == kAtypDomain) {
    auto l = recv_exact(fd, 1, timeout);
    if (!l) return fail();
    append(r.raw, *l);
    addr_len = (*l)[0];
  } else {
    return fail(); // not a valid reply
  }
  auto rest = recv_exact(fd, addr_len + 2, timeout);
  if (!rest) return fail();
  append(r.raw, *rest);
  const std::uint8_t* a = rest->data();
  char text[INET6_ADDRSTRLEN] = {};
  if (r.atyp == kAtypIpv4) r.address = ::inet_ntop(AF_INET, a, text, sizeof text);
  else if (r.atyp == kAtypIpv6) r.address = ::inet_ntop(AF_INET6, a, text, sizeof text);
  else r.address.assign(reinterpret_cast<const char*>(a), addr_len);
  r.port = static_cast<std::uint16_t>((a[addr_len] << 8) | a[addr_len + 1]);
  return r;
}

std::optional<Reply4> read_reply4(const Fd& fd, std::chrono::milliseconds timeout) {
  auto b = recv_exact(fd, 8, timeout);
  if (!b) return std::nullopt;
  Reply4 r;
  r.raw = *b;
  r.vn = r.raw[0];
  r.cd = r.raw[1];
  r.port = static_cast<std::uint16_t>((r.raw[2] << 8) | r.raw[3]);
  char text[INET_ADDRSTRLEN] = {};
  r.address = ::inet_ntop(AF_INET, r.raw.data() + 4, text, sizeof text);
  return r;
}

Fd connect5(std::uint16_t proxy_port, const std::string& host, std::uint16_t port) {
  Fd fd = connect_tcp("127.0.0.1", proxy_port);
  if (!send_all(fd, greeting({0}))) throw std::runtime_error("socks5: sending greeting failed");
  auto m = recv_exact(fd, 2);
  if (!m || (*m)[0] != 5 || (*m)[1] != 0)
    throw std::runtime_error("socks5: method reply " + (m ? to_hex(*m) : std::string("missing")));
  if (!send_all(fd, request(kConnect, host, port))) throw std::runtime_error("socks5: sending request failed");
  Bytes partial;
  auto r = read_reply5(fd, 10s, &partial);
  if (!r) throw std::runtime_error("socks5: no complete reply; got " + to_hex(partial));
  if (r->ver != 5 || r->rep != 0) throw std::runtime_error("socks5: CONNECT reply " + to_hex(r->raw));
  return fd;
}

} // namespace hopgate::test::socks
