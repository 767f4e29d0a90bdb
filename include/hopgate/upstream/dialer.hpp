#pragma once
// Dialer: connects along a route (direct, or a chain of upstream hops) and hands back a socket
// that reaches the target. Only the first hop's address is resolved locally (or the target's,
// for direct routes); a domain target goes to socks4a/socks5h/http hops unresolved.
#include "hopgate/config/config.hpp"
#include "hopgate/core/asio.hpp"
#include "hopgate/core/target.hpp"
#include "hopgate/dns/resolver.hpp"
#include "hopgate/routing/request.hpp"
#include "hopgate/routing/snapshot.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hopgate::upstream {

/// What to dial: the Router's action for a request (routing/router.hpp), or for an HTTP parent
/// proxy the hops before it with the parent as the target.
struct DialRequest {
  std::shared_ptr<const routing::Snapshot> snapshot;
  config::Via via;
  TargetAddress target;
  routing::Client client;
  config::RemoteDns remote_dns = config::RemoteDns::any;
  routing::Command command = routing::Command::connect; ///< what the last SOCKS hop is asked (connect, bind, udp)
};

struct DialResult {
  tcp::socket socket;
  error_code ec;                      ///< ProxyError (see classify) or empty on success
  std::string where;                  ///< "direct" or "upstream NAME" (who failed / who was last)
  TargetAddress bound;                ///< local address (direct) or the last hop's BND address
  std::vector<std::string> hops;      ///< upstream names used, first hop first
  std::vector<std::uint8_t> pending;  ///< bytes the last hop sent beyond its handshake
  std::string detail;                 ///< extra words for the error ("HTTP 407 from upstream")
  unsigned local_lookups = 0;         ///< DNS lookups this dial made locally (target or hop names)
  Clock::duration took{};             ///< time spent dialing
  /// Keeps each hop's active-connection count up while the connection lives (Health::hold).
  std::vector<std::shared_ptr<void>> holds = {};
  /// "upstream tor: host unreachable" — the message an HTTP 502 body or a log line carries.
  std::string error_message() const;
};

/// "upstream tor: host unreachable (detail)": how a failure is told in an HTTP 502 body or a log line.
std::string failure_message(std::string_view where, const error_code& ec, std::string_view detail);

/// Resolves hops of a Via (expanding groups) and connects. Never throws.
awaitable<DialResult> dial(const DialRequest& req, dns::Resolver& resolver);

/// Connects a socket to one of `addresses` (in order) on `port`, each attempt within the deadline.
awaitable<error_code> connect_any(tcp::socket& socket, const std::vector<asio::ip::address>& addresses,
                                  std::uint16_t port, Clock::time_point deadline);

} // namespace hopgate::upstream
