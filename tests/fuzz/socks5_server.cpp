// SOCKS5 server side: what hopgate decodes from its clients (greeting, RFC 1929 request,
// request, UDP header). Properties: the decode contract; every strict prefix of a decoded
// message is need_more (so a fragmented handshake is never misread); what decodes re-encodes
// to bytes that decode to the same value.
#include "fuzz_common.hpp"
#include "hopgate/codec/socks5.hpp"

using namespace hopgate;
using namespace hopgate::fuzz;
namespace s5 = hopgate::codec::socks5;

namespace {

template <class Decode> void prefixes_need_more(Span in, std::size_t n, Decode decode) {
  for (std::size_t k = 0; k < n; ++k) {
    boost::system::error_code ec;
    auto m = decode(in.first(k), ec);
    FUZZ_CHECK(m == 0);
    FUZZ_CHECK(ec == codec::CodecError::need_more);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Span in(data, size);
  boost::system::error_code ec;

  s5::Greeting g;
  auto greeting = [&](Span s, boost::system::error_code& e) { return s5::decode_greeting(s, g, e); };
  if (auto n = check_decode_contract(in, greeting, ec)) {
    prefixes_need_more(in, n, greeting);
    FUZZ_CHECK(!g.methods.empty() && g.methods.size() <= 255);
  } else if (ec == codec::CodecError::need_more) {
    FUZZ_CHECK(in.size() < 2 + 255); // bounded: no endless buffering of a greeting
  }

  s5::UserPassRequest up;
  auto userpass = [&](Span s, boost::system::error_code& e) { return s5::decode_userpass_request(s, up, e); };
  if (auto n = check_decode_contract(in, userpass, ec)) {
    prefixes_need_more(in, n, userpass);
    FUZZ_CHECK(up.username.size() <= 255 && up.password.size() <= 255);
    std::vector<std::uint8_t> out;
    s5::UserPassRequest copy = up;
    s5::encode_userpass_request(out, copy, ec);
    FUZZ_CHECK(!ec);
    s5::UserPassRequest again;
    FUZZ_CHECK(s5::decode_userpass_request(out, again, ec) == out.size() && !ec);
    FUZZ_CHECK(again.username == up.username && again.password == up.password);
  } else if (ec == codec::CodecError::need_more) {
    FUZZ_CHECK(in.size() < 3 + 255 + 255);
  }

  s5::Request req;
  auto request = [&](Span s, boost::system::error_code& e) { return s5::decode_request(s, req, e); };
  if (auto n = check_decode_contract(in, request, ec)) {
    prefixes_need_more(in, n, request);
    if (req.target.is_domain()) FUZZ_CHECK(!req.target.domain.empty() && req.target.domain.size() <= 255);
    std::vector<std::uint8_t> out;
    s5::encode_request(out, static_cast<s5::Command>(req.command), req.target, ec);
    if (!ec) {
      s5::Request again;
      FUZZ_CHECK(s5::decode_request(out, again, ec) == out.size() && !ec);
      FUZZ_CHECK(again.command == req.command && again.target == req.target);
    }
  } else if (ec == codec::CodecError::need_more) {
    FUZZ_CHECK(in.size() < 4 + 1 + 255 + 2);
  }

  s5::UdpHeader uh;
  std::size_t hn = s5::decode_udp_header(in, uh, ec);
  if (!ec) {
    FUZZ_CHECK(hn >= 4 && hn <= in.size());
    std::vector<std::uint8_t> out;
    s5::encode_udp_header(out, uh.target);
    s5::UdpHeader again;
    auto m = s5::decode_udp_header(out, again, ec);
    if (!ec) FUZZ_CHECK(m == out.size() && again.target == uh.target);
  } else {
    FUZZ_CHECK(ec != codec::CodecError::need_more); // a datagram is whole: short is bad_field
  }
  return 0;
}
