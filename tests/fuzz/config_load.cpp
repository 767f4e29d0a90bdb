// Config loading: arbitrary JSON (comments allowed, as the file reader allows them) through
// load_config. Properties: no exception escapes; a refused document names at least one error,
// each with a JSON pointer path; an accepted one compiles into a RouteTable that answers a few
// requests; loading is deterministic.
#include "fuzz_common.hpp"
#include "hopgate/config/loader.hpp"
#include "hopgate/routing/route_table.hpp"

#include <nlohmann/json.hpp>

using namespace hopgate;
using namespace hopgate::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto doc = nlohmann::json::parse(as_text(Span(data, size)), nullptr, false, true);
  if (doc.is_discarded()) return 0;
  auto r = config::load_config(doc);
  if (!r.ok()) {
    FUZZ_CHECK(!r.errors.empty());
    for (auto& e : r.errors) FUZZ_CHECK(e.path.empty() || e.path.front() == '/');
    return 0;
  }
  FUZZ_CHECK(r.errors.empty());
  auto again = config::load_config(doc);
  FUZZ_CHECK(again.ok() && again.config->routes.size() == r.config->routes.size());
  routing::RouteTable table(r.config->routes, r.config->default_via);
  for (auto target : {"example.com:443", "127.0.0.1:80", "[::1]:22", "x.onion:80"}) {
    routing::Request req{*TargetAddress::parse(target), {boost::asio::ip::make_address("10.1.2.3"), "alice", {}, config::Protocol::socks, {}}};
    auto d = table.match(req);
    if (d.route) FUZZ_CHECK(d.rule_index < r.config->routes.size());
    if (d.needs_resolution) {
      boost::asio::ip::address resolved[] = {boost::asio::ip::make_address("10.0.0.1")};
      auto d2 = table.match(req, resolved, true);
      FUZZ_CHECK(!d2.needs_resolution);
    }
  }
  return 0;
}
