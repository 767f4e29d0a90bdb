// SOCKS5 client side: what hopgate decodes from an upstream SOCKS5 hop (method selection,
// RFC 1929 reply, CONNECT/BIND reply). Properties as for the server side.
#include "fuzz_common.hpp"
#include "hopgate/codec/socks5.hpp"

using namespace hopgate;
using namespace hopgate::fuzz;
namespace s5 = hopgate::codec::socks5;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Span in(data, size);
  boost::system::error_code ec;

  s5::Method m{};
  check_decode_contract(in, [&](Span s, boost::system::error_code& e) { return s5::decode_method_selection(s, m, e); }, ec);

  std::uint8_t status = 0;
  check_decode_contract(in, [&](Span s, boost::system::error_code& e) { return s5::decode_userpass_reply(s, status, e); }, ec);

  s5::ReplyMessage r;
  auto reply = [&](Span s, boost::system::error_code& e) { return s5::decode_reply(s, r, e); };
  if (auto n = check_decode_contract(in, reply, ec)) {
    for (std::size_t k = 0; k < n; ++k) {
      s5::ReplyMessage partial;
      FUZZ_CHECK(s5::decode_reply(in.first(k), partial, ec) == 0 && ec == codec::CodecError::need_more);
    }
    // An upstream may send any bound address; re-encoding what we understood gives it back.
    if (!r.bound.is_domain() || (!r.bound.domain.empty() && r.bound.domain.size() <= 255)) {
      std::vector<std::uint8_t> out;
      s5::encode_reply(out, static_cast<s5::Reply>(r.reply), r.bound);
      s5::ReplyMessage again;
      FUZZ_CHECK(s5::decode_reply(out, again, ec) == out.size() && !ec);
      FUZZ_CHECK(again.reply == r.reply && again.bound == r.bound);
    }
  }
  return 0;
}
