#include "hopgate/upstream/connector.hpp"

#include "hopgate/codec/socks4.hpp"
#include "hopgate/codec/socks5.hpp"
#include "hopgate/core/base64.hpp"
#include "hopgate/core/error.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/upstream/hop_reader.hpp"

#include <boost/asio/write.hpp>
#include <array>
#include <span>

namespace hopgate::upstream {
namespace {

using Bytes = std::vector<std::uint8_t>;
namespace s5 = codec::socks5;
namespace s4 = codec::socks4;

awaitable<error_code> write_bytes(tcp::socket& s, const Bytes& out) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(out), use_nothrow);
  (void)n;
  co_return ec;
}

/// Sends what an encoder wrote to `out`, or turns the encoder's error (in r.ec) into
/// `encode_failure`. False when r.ec is set.
awaitable<bool> send_encoded(tcp::socket& s, const Bytes& out, HandshakeResult& r, ProxyError encode_failure) {
  if (r.ec) {
    r.ec = encode_failure;
    co_return false;
  }
  if (auto ec = co_await write_bytes(s, out)) {
    r.ec = ec;
    co_return false;
  }
  co_return true;
}

} // namespace

awaitable<HandshakeResult> socks4_handshake(tcp::socket& s, const TargetAddress& next, const std::string& user_id,
                                            s4::Command command) {
  HandshakeResult r;
  Bytes out;
  s4::encode_request(out, command, next, user_id, r.ec);
  if (r.ec) {
    r.ec = next.is_ipv6() ? ProxyError::address_type_not_supported : ProxyError::general_failure;
    co_return r;
  }
  if (auto ec = co_await write_bytes(s, out)) {
    r.ec = ec;
    co_return r;
  }
  Bytes buf;
  s4::ReplyMessage reply;
  auto n = co_await read_hop_message(s, buf, [&](auto in, error_code& ec) { return s4::decode_reply(in, reply, ec); }, r.ec);
  if (r.ec) co_return r;
  if (reply.reply != static_cast<std::uint8_t>(s4::Reply::granted)) {
    r.ec = ProxyError::upstream_rejected;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", reply.reply);
    r.detail = std::string("SOCKS4 reply ") + hex;
    co_return r;
  }
  r.bound = TargetAddress::from_ip(reply.ip, reply.port);
  r.pending.assign(buf.begin() + static_cast<std::ptrdiff_t>(n), buf.end());
  co_return r;
}

awaitable<HandshakeResult> socks5_handshake(tcp::socket& s, const TargetAddress& next, const Credentials* creds,
                                            s5::Command command) {
  HandshakeResult r;
  Bytes out;
  std::vector<s5::Method> methods{s5::Method::no_auth};
  if (creds && !creds->username.empty()) methods = {s5::Method::user_pass};
  s5::encode_greeting(out, methods);
  // Pipelining the request behind the greeting saves a round trip, but some servers drop it:
  // send the greeting alone and wait for the method selection.
  if (auto ec = co_await write_bytes(s, out)) {
    r.ec = ec;
    co_return r;
  }
  Bytes buf;
  s5::Method chosen{};
  auto n = co_await read_hop_message(s, buf, [&](auto in, error_code& ec) { return s5::decode_method_selection(in, chosen, ec); }, r.ec);
  if (r.ec) co_return r;
  buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  if (chosen == s5::Method::user_pass && creds) {
    out.clear();
    s5::encode_userpass_request(out, {creds->username, creds->password}, r.ec);
    if (!co_await send_encoded(s, out, r, ProxyError::upstream_auth_failed)) co_return r;
    std::uint8_t status = 0xFF;
    n = co_await read_hop_message(s, buf, [&](auto in, error_code& ec) { return s5::decode_userpass_reply(in, status, ec); }, r.ec);
    if (r.ec) co_return r;
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    if (status != 0) {
      r.ec = ProxyError::upstream_auth_failed;
      r.detail = "username/password rejected";
      co_return r;
    }
  } else if (chosen != s5::Method::no_auth) {
    r.ec = ProxyError::upstream_auth_failed; // credentials it wants and we lack, or none of ours it takes
    r.detail = chosen == s5::Method::no_acceptable ? "no acceptable authentication method" : "upstream wants credentials";
    co_return r;
  }
  out.clear();
  s5::encode_request(out, command, next, r.ec);
  if (!co_await send_encoded(s, out, r, ProxyError::general_failure)) co_return r;
  s5::ReplyMessage reply;
  n = co_await read_hop_message(s, buf, [&](auto in, error_code& ec) { return s5::decode_reply(in, reply, ec); }, r.ec);
  if (r.ec) co_return r;
  if (reply.reply != 0) {
    r.ec = from_socks5_reply(reply.reply);
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", reply.reply);
    r.detail = std::string("SOCKS5 reply ") + hex;
    co_return r;
  }
  r.bound = reply.bound;
  r.pending.assign(buf.begin() + static_cast<std::ptrdiff_t>(n), buf.end());
  co_return r;
}

awaitable<HandshakeResult> http_connect_handshake(tcp::socket& s, const TargetAddress& next, const Credentials* creds) {
  HandshakeResult r;
  std::string authority = next.to_string();
  std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (creds && !creds->username.empty())
    req += "Proxy-Authorization: Basic " + base64_encode(creds->username + ":" + creds->password) + "\r\n";
  req += "\r\n";
  {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(req), use_nothrow);
    (void)n;
    if (ec) {
      r.ec = ec;
      co_return r;
    }
  }
  Bytes buf;
  auto n = co_await read_hop_message(
      s, buf,
      [](std::span<const std::uint8_t> in, error_code& ec) -> std::size_t {
        std::string_view v(reinterpret_cast<const char*>(in.data()), in.size());
        auto end = v.find("\r\n\r\n");
        if (end == std::string_view::npos) {
          ec = codec::CodecError::need_more;
          return 0;
        }
        ec = {};
        return end + 4;
      },
      r.ec);
  if (r.ec) co_return r;
  std::string_view head(reinterpret_cast<const char*>(buf.data()), n);
  // "HTTP/1.x SSS reason"
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/" || head[8] != ' ') {
    r.ec = ProxyError::upstream_protocol_error;
    co_return r;
  }
  auto line_end = head.find("\r\n");
  std::string status_line(head.substr(9, line_end - 9));
  if (head[9] != '2') {
    // 407 is the proxy's answer to bad credentials; Tinyproxy (1.11) sends 401 instead. To a
    // CONNECT nobody but the proxy can answer, so both mean the hop refused our credentials.
    auto code = head.substr(9, 3);
    r.ec = code == "407" || code == "401" ? ProxyError::upstream_auth_failed : ProxyError::upstream_rejected;
    r.detail = "HTTP " + status_line;
    co_return r;
  }
  r.bound = next;
  r.pending.assign(buf.begin() + static_cast<std::ptrdiff_t>(n), buf.end());
  co_return r;
}

} // namespace hopgate::upstream
