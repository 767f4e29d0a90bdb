#pragma once
// SOCKS4/4a/5 client messages built byte by byte (independently of hopgate's codec) and a reply
// reader, for raw-protocol tests.
#include "support/net.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace hopgate::test::socks {

inline constexpr std::uint8_t kConnect = 1, kBind = 2, kUdpAssociate = 3;
inline constexpr std::uint8_t kAtypIpv4 = 1, kAtypDomain = 3, kAtypIpv6 = 4;

/// 05 N methods...
Bytes greeting(std::initializer_list<int> methods);
/// RFC 1929: 01 ulen user plen pass
Bytes userpass(const std::string& user, const std::string& pass);
/// 05 cmd 00 atyp addr port. `host` as an IPv4 literal -> ATYP 1, IPv6 literal -> ATYP 4, else ATYP 3.
Bytes request(std::uint8_t cmd, const std::string& host, std::uint16_t port);
/// SOCKS4: 04 cmd port ipv4 userid 00
Bytes socks4_request(std::uint8_t cmd, const std::string& ipv4, std::uint16_t port, const std::string& userid = "");
/// SOCKS4a: 04 cmd port 0.0.0.1 userid 00 host 00
Bytes socks4a_request(std::uint8_t cmd, const std::string& host, std::uint16_t port,
                      const std::string& userid = "");

struct Reply5 {
  std::uint8_t ver = 0, rep = 0, rsv = 0, atyp = 0;
  std::string address; ///< dotted IPv4, IPv6 text, or the domain
  std::uint16_t port = 0;
  Bytes raw;
};
/// Reads one complete SOCKS5 reply (header, then the address its ATYP announces). nullopt when the
/// connection closes or times out first; *partial then holds what did arrive.
std::optional<Reply5> read_reply5(const Fd& fd, std::chrono::milliseconds timeout = 10s, Bytes* partial = nullptr);

struct Reply4 {
  std::uint8_t vn = 0, cd = 0;
  std::uint16_t port = 0;
  std::string address;
  Bytes raw;
};
/// Reads one 8-byte SOCKS4 reply.
std::optional<Reply4> read_reply4(const Fd& fd, std::chrono::milliseconds timeout = 10s);

/// Connects to the SOCKS5 proxy at 127.0.0.1:proxy_port without authentication and CONNECTs to
/// host:port; throws std::runtime_error describing the first deviation.
Fd connect5(std::uint16_t proxy_port, const std::string& host, std::uint16_t port);

} // namespace hopgate::test::socks
