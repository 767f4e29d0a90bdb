// The small parsers behind rules and listeners: CIDRs, host:port targets, port ranges, upstream
// URLs, listen addresses, domain normalisation. Properties: what parses prints back to text that
// parses to the same value; a CIDR contains its own network address; credentials in an upstream
// URL never show in its display().
#include "fuzz_common.hpp"
#include "hopgate/config/loader.hpp"
#include "hopgate/core/cidr.hpp"
#include "hopgate/core/target.hpp"
#include "hopgate/routing/route_table.hpp"

using namespace hopgate;
using namespace hopgate::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = as_text(Span(data, size));

  if (auto c = Cidr::parse(text)) {
    FUZZ_CHECK(c->prefix <= (c->network.is_v4() ? 32 : 128));
    FUZZ_CHECK(c->contains(c->network));
    auto again = Cidr::parse(c->to_string());
    FUZZ_CHECK(again.has_value() && *again == *c);
  }

  if (auto t = TargetAddress::parse(text)) {
    auto again = TargetAddress::parse(t->to_string());
    FUZZ_CHECK(again.has_value() && *again == *t);
    if (t->is_domain()) FUZZ_CHECK(normalize_host(t->domain) == t->domain);
  }

  if (auto p = config::parse_port_range(text)) {
    FUZZ_CHECK(p->first >= 1 && p->first <= p->last);
    FUZZ_CHECK(p->contains(p->first) && p->contains(p->last));
  }

  std::string why;
  if (auto hop = config::parse_hop_url(text, why)) {
    // scheme://host:port only: user names and passwords never reach a log line through it.
    FUZZ_CHECK(hop->display().find('@') == std::string::npos);
    FUZZ_CHECK(hop->port >= 1);
  } else {
    FUZZ_CHECK(!why.empty());
  }

  why.clear();
  if (auto ep = config::parse_listen_address(text, why)) (void)ep->port();
  else FUZZ_CHECK(!why.empty());

  auto n = normalize_host(text);
  FUZZ_CHECK(normalize_host(n) == n);

  // A pattern against a name, both from the input (split at the first NUL or newline).
  auto cut = text.find_first_of(std::string_view("\0\n", 2));
  if (cut != std::string_view::npos) {
    auto pattern = normalize_host(text.substr(0, cut));
    auto host = normalize_host(text.substr(cut + 1));
    bool m = routing::domain_pattern_matches(pattern, host);
    if (!pattern.empty() && pattern.find_first_of("*?") == std::string::npos && pattern.front() != '.')
      FUZZ_CHECK(m == (pattern == host));
  }
  return 0;
}
