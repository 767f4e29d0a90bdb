// SOCKS4/4a, both sides: requests from clients, replies from upstream hops.
#include "fuzz_common.hpp"
#include "hopgate/codec/socks4.hpp"

using namespace hopgate;
using namespace hopgate::fuzz;
namespace s4 = hopgate::codec::socks4;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Span in(data, size);
  boost::system::error_code ec;

  s4::Request req;
  auto request = [&](Span s, boost::system::error_code& e) { return s4::decode_request(s, req, e); };
  if (auto n = check_decode_contract(in, request, ec)) {
    for (std::size_t k = 0; k < n; ++k) {
      s4::Request partial;
      FUZZ_CHECK(s4::decode_request(in.first(k), partial, ec) == 0 && ec == codec::CodecError::need_more);
    }
    FUZZ_CHECK(req.user_id.size() <= s4::max_field);
    if (req.target.is_domain()) FUZZ_CHECK(req.socks4a && !req.target.domain.empty() && req.target.domain.size() <= s4::max_field);
    if (req.command == 1 || req.command == 2) {
      std::vector<std::uint8_t> out;
      s4::encode_request(out, static_cast<s4::Command>(req.command), req.target, req.user_id, ec);
      if (!ec) {
        s4::Request again;
        FUZZ_CHECK(s4::decode_request(out, again, ec) == out.size() && !ec);
        FUZZ_CHECK(again.command == req.command && again.user_id == req.user_id);
        // A 4a host that is an IP literal comes back as that IP: compare as text.
        FUZZ_CHECK(again.target.to_string() == req.target.to_string());
      }
    }
  } else {
    // Without a size limit a client could make us buffer forever: a request that is still
    // need_more past the largest valid one must not exist.
    if (ec == codec::CodecError::need_more) FUZZ_CHECK(in.size() <= 8 + 2 * (s4::max_field + 1));
  }

  s4::ReplyMessage r;
  if (check_decode_contract(in, [&](Span s, boost::system::error_code& e) { return s4::decode_reply(s, r, e); }, ec)) {
    std::vector<std::uint8_t> out;
    s4::encode_reply(out, static_cast<s4::Reply>(r.reply), r.ip, r.port);
    s4::ReplyMessage again;
    FUZZ_CHECK(s4::decode_reply(out, again, ec) == out.size() && !ec);
    FUZZ_CHECK(again.reply == r.reply && again.ip == r.ip && again.port == r.port);
  }
  return 0;
}
