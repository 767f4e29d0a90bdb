// Kept in one raw string so that docs/cli.md can quote it byte for byte.
#include "hopgate/cli/help.hpp"

namespace hopgate::cli {

std::string_view help_text() {
  return R"(HOPGATE(1)                       User Commands                      HOPGATE(1)

NAME
    hopgate - translating HTTP <-> SOCKS proxy gateway

SYNOPSIS
    hopgate [--config FILE] [--upstream URL] [--http ADDR] [--socks ADDR]
            [--admin ADDR] [--route MATCH=ACTION]... [--log-level LEVEL]
            [--log-format FORMAT] [--check | --print-config]
    hopgate [--config FILE] --healthcheck [URL | /PATH]
    hopgate --version | --help

DESCRIPTION
    hopgate serves an HTTP proxy and a SOCKS4/4a/5 proxy that share one
    ordered routing table: each destination goes direct, is blocked, or
    goes through a chain of upstream SOCKS4/4a/5 and HTTP proxies. A JSON
    admin API shows and steers it while it runs.

    The config is a JSON file (see FILES). Flags and environment
    variables override its keys: flags > environment > file.
    Without a file, --upstream alone is a whole config (quick mode):

        hopgate --upstream socks5h://127.0.0.1:9050

    serves HTTP on 127.0.0.1:8118, SOCKS on 127.0.0.1:1080 and the admin
    API on 127.0.0.1:9090, and sends everything through that upstream.

OPTIONS
    -c, --config FILE
        The config file. Without it (and without HOPGATE_CONFIG) hopgate
        reads config/hopgate.json, then /etc/hopgate/hopgate.json, and
        with neither uses the built-in defaults (the three addresses
        above, everything direct). In quick mode (--upstream or --route
        given) no default file is read.

    --upstream URL
        Defines the upstream named "upstream" and makes it the default
        route. URL: socks4://, socks4a://, socks5:// (hopgate resolves
        names), socks5h:// (the upstream resolves names) or http://
        (CONNECT), optionally with user:password@.

    --http ADDR, --socks ADDR, --admin ADDR
        Replaces the listen addresses of that listener: host:port,
        [v6]:port, several separated by commas, port 0 for a free port;
        "off" removes the listener. Its other keys (auth, allow) stay.

    --route MATCH=ACTION
        Adds a rule ahead of the file's rules; repeat it for more, first
        match wins. MATCH: domains (example.com, *.example.com) or CIDRs
        (10.0.0.0/8, fd00::/8, 192.0.2.7), comma-separated, not mixed.
        ACTION: direct, block, upstream (the --upstream proxy), the name
        of an upstream in the config file, or an upstream URL.

    --log-level LEVEL
        trace, debug, info, warn, error, critical or off.

    --log-format FORMAT
        text (default) or json: one JSON object per line with the keys
        time (UTC), level and msg.

    --check
        Validates the config (with flags and environment applied),
        prints the listeners, upstreams and routes, and exits.

    --print-config
        Prints the JSON config that the file, environment and flags add
        up to, and exits: a start for your own config file. It shows
        credentials as given.

    --healthcheck [URL | /PATH]
        GETs URL, or /PATH (default /healthz) on the admin listener of
        the config, with the admin token as a bearer token; exits 0 on a
        2xx answer within 5 seconds, else 1. For container health
        checks and probes; no curl needed.

    -V, --version
        Prints the version.

    -h, --help
        Prints this text.

ENVIRONMENT
    An empty variable counts as unset. A flag wins over its variable.

    HOPGATE_CONFIG       like --config
    HOPGATE_UPSTREAM     like --upstream
    HOPGATE_HTTP         like --http
    HOPGATE_SOCKS        like --socks
    HOPGATE_ADMIN        like --admin
    HOPGATE_ADMIN_TOKEN  bearer token of the admin API (listeners.admin.
                         token; needed when the admin API is not on
                         loopback). No flag: it would show in ps.
    HOPGATE_LOG_LEVEL    like --log-level
    HOPGATE_LOG_FORMAT   like --log-format

FILES
    config/hopgate.json, /etc/hopgate/hopgate.json
        The default config files. Unknown keys are errors; every error
        names its JSON path. config/hopgate.schema.json is its JSON
        Schema, for editors.

SIGNALS
    SIGTERM, SIGINT
        Stop accepting, let open connections finish within
        timeouts.shutdown_grace (default 10 s), close the rest, exit 0.
    SIGHUP
        Reload the config file; a bad file is refused and the running
        config stays.

EXIT STATUS
    0   success (and for --check: the config is valid)
    1   invalid config, a listener that cannot be bound, or a failed
        health check
    2   bad command line

EXAMPLES
    Give an HTTP-only client a way through Tor:
        hopgate --upstream socks5h://127.0.0.1:9050
        http_proxy=http://127.0.0.1:8118 curl http://example.com/

    Everything through Tor except corp (office proxy) and the LAN:
        hopgate --upstream socks5h://127.0.0.1:9050 \
                --route '*.corp.example=http://proxy.corp.example:3128' \
                --route '10.0.0.0/8,192.168.0.0/16=direct'

    Turn those flags into a config file:
        hopgate --upstream socks5h://127.0.0.1:9050 --print-config \
            > hopgate.json

SEE ALSO
    docs/cli.md, README.md, curl(1)
)";
}

} // namespace hopgate::cli
