#pragma once
// Request: who asks for what, through which front end. The one input of the Router
// (routing/router.hpp), built by every front end and by the admin API's route explanation.
#include "hopgate/config/config.hpp"
#include "hopgate/core/target.hpp"

#include <boost/asio/ip/address.hpp>
#include <string>

namespace hopgate::routing {

/// Who is asking: matched by routes, passed on to hops ("auth": "client"), hashed by groups.
struct Client {
  boost::asio::ip::address address;
  std::string user;     ///< authenticated user name, empty if none
  std::string password; ///< only for "auth": "client" pass-through; never logged
  config::Protocol frontend = config::Protocol::socks; ///< the protocol it spoke
  std::string listener; ///< the name of the listener it came in on ("" when none: the admin API's "why")
};

/// What the client wants done with the target: a SOCKS command (an HTTP request is a connect).
enum class Command { connect, bind, udp_associate };

struct Request {
  TargetAddress target;
  Client client;
  Command command = Command::connect;
};

} // namespace hopgate::routing
