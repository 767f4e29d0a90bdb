#include "hopgate/codec/dns.hpp"

#include <algorithm>
#include <limits>

namespace hopgate::codec::dns {
namespace {

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

struct Reader {
  std::span<const std::uint8_t> in;
  std::size_t pos = 0;
  bool ok = true;
  std::uint16_t u16() {
    if (pos + 2 > in.size()) return fail16();
    std::uint16_t v = static_cast<std::uint16_t>((in[pos] << 8) | in[pos + 1]);
    pos += 2;
    return v;
  }
  std::uint32_t u32() {
    std::uint32_t hi = u16(), lo = u16();
    return (hi << 16) | lo;
  }
  std::uint16_t fail16() {
    ok = false;
    return 0;
  }
  /// Skips a (possibly compressed) name.
  void skip_name() {
    for (int guard = 0; guard < 128; ++guard) {
      if (pos >= in.size()) {
        ok = false;
        return;
      }
      std::uint8_t len = in[pos];
      if ((len & 0xC0) == 0xC0) { // a pointer ends the name
        pos += 2;
        if (pos > in.size()) ok = false;
        return;
      }
      if (len & 0xC0) {
        ok = false;
        return;
      }
      pos += 1 + len;
      if (len == 0) return;
    }
    ok = false;
  }
};

} // namespace

void encode_query(std::vector<std::uint8_t>& out, std::uint16_t id, std::string_view name, RecordType type,
                  boost::system::error_code& ec) {
  ec = {};
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) {
    ec = name.empty() ? CodecError::bad_field : CodecError::field_too_long;
    return;
  }
  std::vector<std::uint8_t> q;
  put16(q, id);
  put16(q, 0x0100); // RD
  put16(q, 1);      // QDCOUNT
  put16(q, 0);
  put16(q, 0);
  put16(q, 0);
  std::size_t start = 0;
  while (start <= name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    auto label = name.substr(start, dot - start);
    if (label.empty()) {
      ec = CodecError::bad_field;
      return;
    }
    if (label.size() > 63) {
      ec = CodecError::field_too_long;
      return;
    }
    q.push_back(static_cast<std::uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    start = dot + 1;
  }
  q.push_back(0);
  put16(q, static_cast<std::uint16_t>(type));
  put16(q, 1); // IN
  out.insert(out.end(), q.begin(), q.end());
}

void decode_response(std::span<const std::uint8_t> in, Answer& out, boost::system::error_code& ec) {
  ec = {};
  Reader r{in};
  Answer a;
  a.id = r.u16();
  std::uint16_t flags = r.u16();
  std::uint16_t qd = r.u16(), an = r.u16();
  r.u16();
  r.u16();
  if (!r.ok || !(flags & 0x8000)) {
    ec = CodecError::bad_field;
    return;
  }
  a.rcode = flags & 0x0F;
  a.truncated = flags & 0x0200;
  for (unsigned i = 0; i < qd && r.ok; ++i) {
    r.skip_name();
    r.u16();
    r.u16();
  }
  a.min_ttl = std::numeric_limits<std::uint32_t>::max();
  for (unsigned i = 0; i < an && r.ok; ++i) {
    r.skip_name();
    std::uint16_t type = r.u16();
    std::uint16_t klass = r.u16();
    std::uint32_t ttl = r.u32();
    std::uint16_t len = r.u16();
    if (!r.ok || r.pos + len > in.size()) {
      r.ok = false;
      break;
    }
    if (klass == 1 && type == 1 && len == 4) {
      boost::asio::ip::address_v4::bytes_type b;
      std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(r.pos), 4, b.begin());
      a.addresses.emplace_back(boost::asio::ip::address_v4(b));
      a.min_ttl = std::min(a.min_ttl, ttl);
    } else if (klass == 1 && type == 28 && len == 16) {
      boost::asio::ip::address_v6::bytes_type b;
      std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(r.pos), 16, b.begin());
      a.addresses.emplace_back(boost::asio::ip::address_v6(b));
      a.min_ttl = std::min(a.min_ttl, ttl);
    }
    r.pos += len;
  }
  if (!r.ok) {
    ec = CodecError::bad_field;
    return;
  }
  if (a.addresses.empty()) a.min_ttl = 0;
  out = std::move(a);
}

} // namespace hopgate::codec::dns
