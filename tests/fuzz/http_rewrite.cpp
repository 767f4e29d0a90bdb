// Header rewriting on the way through the proxy. The input is a header section ("Name: value"
// lines) plus a target; properties: after rewrite_request no hop-by-hop field is left
// (Connection and the fields it names, Proxy-Authorization, Transfer-Encoding...), Host is the
// first field and names the target; check_framing never accepts Content-Length together with
// Transfer-Encoding (request smuggling); the serialized head ends with one blank line.
#include "fuzz_common.hpp"
#include "hopgate/codec/http_rewrite.hpp"

#include <fuzzer/FuzzedDataProvider.h>

using namespace hopgate;
using namespace hopgate::fuzz;
namespace hc = hopgate::codec::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  auto target_text = fdp.ConsumeRandomLengthString(200);
  bool xff = fdp.ConsumeBool();
  auto via = fdp.ConsumeRandomLengthString(40);
  auto section = fdp.ConsumeRemainingBytesAsString();

  hc::Fields fields;
  std::size_t pos = 0;
  while (pos < section.size() && fields.size() < 200) {
    auto eol = section.find('\n', pos);
    auto line = std::string_view(section).substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? section.size() : eol + 1;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.remove_suffix(1);
    fields.push_back({line.substr(0, colon), value}); // views of `section`, as the proxy's are of the parser's text
  }

  boost::system::error_code ec;
  for (bool is_request : {true, false}) {
    if (auto f = hc::check_framing(fields, is_request, ec)) {
      bool cl = hc::find_field(fields, "Content-Length") != nullptr;
      bool te = hc::find_field(fields, "Transfer-Encoding") != nullptr;
      FUZZ_CHECK(!(cl && te));
      if (is_request && te) FUZZ_CHECK(f->kind == hc::Framing::Kind::chunked);
    } else {
      FUZZ_CHECK(ec.failed());
    }
  }

  for (const auto* f : {"Connection", "Proxy-Connection", "Keep-Alive", "TE", "Upgrade"}) {
    (void)hc::fields_have_token(fields, f, "close");
  }

  auto target = hc::parse_absolute_target(target_text, ec);
  if (!target) target = hc::parse_absolute_target("http://example.com/", ec);
  FUZZ_CHECK(target.has_value());

  // The names Connection lists go too: gather them before the rewrite.
  std::vector<std::string> named;
  for (auto& f : fields)
    if (hc::name_equals(f.name, "Connection")) {
      std::string_view list = f.value;
      while (!list.empty()) {
        auto comma = list.find(',');
        auto token = list.substr(0, comma);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
        if (!token.empty()) named.emplace_back(token);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      }
    }

  hc::HeaderSection request_section(fields);
  hc::RewriteOptions opts{via, xff, "192.0.2.1"};
  hc::rewrite_request(request_section, *target, opts);
  const auto& request = request_section.fields;
  for (const auto* hop : {"Connection", "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding",
                          "Upgrade", "Proxy-Authorization", "Proxy-Authenticate"})
    FUZZ_CHECK(hc::find_field(request, hop) == nullptr);
  for (auto& n : named)
    if (!hc::name_equals(n, "Host") && !hc::name_equals(n, "Via") && !hc::name_equals(n, "X-Forwarded-For"))
      FUZZ_CHECK(hc::find_field(request, n) == nullptr);
  FUZZ_CHECK(!request.empty() && hc::name_equals(request.front().name, "Host"));
  FUZZ_CHECK(request.front().value == hc::host_text(target->authority));
  std::size_t hosts = 0;
  for (auto& f : request) hosts += hc::name_equals(f.name, "Host");
  FUZZ_CHECK(hosts == 1);

  auto head = hc::serialize_request_head("GET", target->origin_form, request);
  FUZZ_CHECK(head.size() >= 4 && head.ends_with("\r\n\r\n"));

  hc::HeaderSection response_section(fields);
  hc::rewrite_response(response_section, via);
  const auto& response = response_section.fields;
  FUZZ_CHECK(hc::find_field(response, "Connection") == nullptr);
  FUZZ_CHECK(hc::find_field(response, "Transfer-Encoding") == nullptr);
  auto rhead = hc::serialize_response_head(200, hc::reason_phrase(200), response);
  FUZZ_CHECK(rhead.ends_with("\r\n\r\n"));
  (void)hc::proxy_reply(static_cast<unsigned>(fdp.ConsumeIntegralInRange<int>(100, 599)), section, fdp.ConsumeBool());
  return 0;
}
