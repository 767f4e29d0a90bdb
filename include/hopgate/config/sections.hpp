#pragma once
// The loader's sections: each reads one part of the document into the Config, reporting errors
// through the Reader. load_config (loader.cpp) calls them in this order; a later section may
// look at what an earlier one read (routes check user and listener names, listeners check that
// password auth has users).
#include "hopgate/config/reader.hpp"

namespace hopgate::config {

void load_listeners(Reader& r, const json& doc, Config& c);   ///< /listeners
void load_users(Reader& r, const json& doc, Config& c);       ///< /users
void load_upstreams(Reader& r, const json& doc, Config& c);   ///< /upstreams
void load_routes(Reader& r, const json& doc, Config& c);      ///< /routes and /default
void load_options(Reader& r, const json& doc, Config& c);     ///< /timeouts, /http, /limits, /udp, /dns, /log, ...
/// What needs the whole document: listeners that need users, open proxies, an exposed admin API.
void check_listeners(Reader& r, const json& doc, const Config& c);
/// The references between upstreams: chain hops and group members that exist and fit.
void check_upstreams(Reader& r, const Config& c);

} // namespace hopgate::config
