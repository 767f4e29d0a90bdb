// The asynchronous step of the Router (router.hpp), apart from the pure decision so that code
// built without the resolver (the fuzz targets) can link decide().
#include "hopgate/routing/router.hpp"

namespace hopgate::routing {

awaitable<Verdict> resolve_and_decide(const Snapshot& snapshot, const Request& request, dns::Resolver& resolver) {
  // A "resolve": true rule wants the name's addresses: this lookup is local by the rule's own choice.
  auto res = co_await resolver.resolve(request.target.domain, &snapshot.config->dns);
  auto verdict = decide(snapshot, request, res.addresses, true);
  verdict.lookups_made = 1;
  co_return verdict;
}

} // namespace hopgate::routing
