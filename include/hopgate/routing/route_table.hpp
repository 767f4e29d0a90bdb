#pragma once
// RouteTable: the compiled, immutable form of the ordered rule list. Built once per config
// (start, reload, PUT /api/v1/routes) and shared read-only by every session.
#include "hopgate/config/config.hpp"
#include "hopgate/core/target.hpp"
#include "hopgate/routing/request.hpp"

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hopgate::routing {

/// The outcome of a lookup.
struct Decision {
  static constexpr std::size_t default_rule = std::numeric_limits<std::size_t>::max();
  std::size_t rule_index = default_rule; ///< index into config routes, or default_rule
  const config::Route* route = nullptr;   ///< nullptr for the default
  config::Via via;                        ///< the action
  /// Set when a rule with "resolve": true and cidr matchers was reached for a domain target
  /// and no resolved addresses were given: resolve the name, then call match() again with them.
  bool needs_resolution = false;
  std::string rule_name() const { return route ? route->name : std::string("default"); }
};

class RouteTable {
public:
  /// Compiles routes (copied into the table) and the default action.
  RouteTable(std::vector<config::Route> routes, config::Via default_via);

  /// First rule whose every matcher matches, else the default. Cost does not grow with the
  /// number of exact/suffix domain rules or CIDR rules (tries/hashes); globs are scanned.
  Decision match(const Request& req, std::span<const boost::asio::ip::address> resolved = {},
                 bool resolved_given = false) const;

  const std::vector<config::Route>& routes() const { return routes_; }
  const config::Via& default_via() const { return default_via_; }

  ~RouteTable();
  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;

private:
  struct Index;
  std::vector<config::Route> routes_;
  config::Via default_via_;
  std::unique_ptr<Index> index_;
};

/// A rule's matchers that do not depend on the target: front end, client address, user.
bool client_may_match(const config::Match& match, const Client& client);

/// Domain pattern test used by the table (exposed for tests and the PAC generator):
/// "example.com" exact, "*.example.com" subdomains only, ".example.com" the domain and its
/// subdomains, anything else with '*' or '?' a glob over the whole name.
bool domain_pattern_matches(std::string_view pattern, std::string_view host);

} // namespace hopgate::routing
