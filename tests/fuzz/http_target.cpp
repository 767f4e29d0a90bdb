// HTTP request targets (absolute-form, authority-form) and Basic proxy credentials.
// Properties: a parsed target has a host and a port in 1..65535 and an origin-form that starts
// with "/" and holds no whitespace or control bytes (it goes into the upstream request line);
// absolute_form() of a parsed target parses again to the same authority and origin-form;
// encode_basic/decode_basic round-trip.
#include "fuzz_common.hpp"
#include "hopgate/codec/http_target.hpp"
#include "hopgate/core/authority.hpp"
#include "hopgate/core/secret.hpp"

#include <fuzzer/FuzzedDataProvider.h>

using namespace hopgate;
using namespace hopgate::fuzz;
namespace hc = hopgate::codec::http;

namespace {

bool clean_line_text(std::string_view s) {
  for (unsigned char c : s)
    if (c <= 0x20 || c == 0x7f) return false;
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = as_text(Span(data, size));
  boost::system::error_code ec;

  (void)hc::classify_target(text, false);
  (void)hc::classify_target(text, true);

  if (auto t = hc::parse_absolute_target(text, ec)) {
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(t->authority.port >= 1);
    FUZZ_CHECK(!t->authority.host().empty());
    FUZZ_CHECK(!t->origin_form.empty() && t->origin_form.front() == '/');
    FUZZ_CHECK(clean_line_text(t->origin_form));
    FUZZ_CHECK(clean_line_text(hc::host_text(t->authority)));
    auto again = hc::parse_absolute_target(hc::absolute_form(*t), ec);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->authority == t->authority);
    FUZZ_CHECK(again->origin_form == t->origin_form);
  } else {
    FUZZ_CHECK(ec.failed());
  }

  if (auto t = hc::parse_authority_target(text, ec)) {
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(t->authority.port >= 1);
    FUZZ_CHECK(!t->authority.host().empty());
    FUZZ_CHECK(clean_line_text(hc::host_text(t->authority, 0)));
    auto again = hc::parse_authority_target(t->authority.to_string(), ec);
    FUZZ_CHECK(again.has_value() && again->authority == t->authority);
  } else {
    FUZZ_CHECK(ec.failed());
  }

  if (auto c = hc::decode_basic(text, ec)) {
    auto again = hc::decode_basic(hc::encode_basic(c->username, c->password), ec);
    FUZZ_CHECK(again.has_value() && again->username == c->username && again->password == c->password);
  }

  FuzzedDataProvider fdp(data, size);
  auto user = fdp.ConsumeRandomLengthString(300);
  auto pass = fdp.ConsumeRemainingBytesAsString();
  if (user.find(':') == std::string::npos) {
    auto back = hc::decode_basic(hc::encode_basic(user, pass), ec);
    FUZZ_CHECK(back.has_value() && back->username == user && back->password == pass);
  }
  FUZZ_CHECK(hopgate::secret_equals(pass, pass));
  // Host and Origin as the admin API's browser guard reads them (core/authority.hpp): a
  // normalized form parses again to itself.
  if (auto h = hopgate::parse_host_header(text)) {
    auto again = hopgate::parse_host_header(h->host + (h->port ? ":" + std::to_string(*h->port) : std::string()));
    FUZZ_CHECK(again && again->host == h->host && again->port == h->port && again->ip_literal == h->ip_literal);
  }
  if (auto o = hopgate::normalize_origin(text)) FUZZ_CHECK(hopgate::normalize_origin(*o) == o);
  FUZZ_CHECK(!hopgate::secret_equals(pass + "x", pass) && !hopgate::secret_equals(user, user + pass + "!"));
  return 0;
}
