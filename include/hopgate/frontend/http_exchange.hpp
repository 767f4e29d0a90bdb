#pragma once
// One forwarded absolute-URI exchange of the HTTP front end: the request is admitted and
// planned, an upstream connection is taken (the one the client held, the pool's, or a new dial),
// the head goes up with the body streamed behind it while the response streams down, and the
// connection is kept for the client's next request when both sides allow it. A stale pooled
// connection is retried once on a new one for an idempotent request. The session
// (http_frontend.cpp) owns what lives longer than one exchange and sends the error replies.
#include "hopgate/codec/http_rewrite.hpp"
#include "hopgate/codec/http_target.hpp"
#include "hopgate/core/error.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/frontend/http_io.hpp"
#include "hopgate/observe/registry.hpp"
#include "hopgate/routing/router.hpp"
#include "hopgate/upstream/dialer.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hopgate::frontend {

struct Admission;

/// One client connection of the HTTP front end, as its session and the exchanges it forwards
/// share it. Kept from request to request so that a busy connection's heads allocate nothing
/// once warm.
struct HttpClient {
  HttpClient(tcp::socket& socket, SessionContext& ctx, observe::Connection& conn)
      : socket(socket), ctx(ctx), conn(conn), peer(ctx.peer.address()) {}

  /// Sends `text` to the client (counted in the connection's bytes down); false when it is gone.
  awaitable<bool> send(std::string_view text);
  /// The connection's error for stats and the access log.
  void record_error(ProxyError e);

  tcp::socket& socket;
  SessionContext& ctx;
  observe::Connection& conn;
  asio::ip::address peer;
  boost::beast::flat_buffer in;          ///< bytes from the client not yet parsed (pipelined requests, tunnel data)
  http_io::FieldArena field_arena;       ///< where the parsers keep the current request's and responses' fields
  codec::http::HeaderSection request_fields; ///< the current request's fields, rewritten in place
  Clock::duration idle{};                ///< timeouts.idle of the snapshot the current request uses
  std::string result;                    ///< the last request's result, for the access log
};

/// What a client connection keeps for the exchanges it forwards, from one to the next.
struct HttpUpstreamSide {
  /// An upstream connection kept for this client between its requests: a kept-alive client
  /// reuses its own upstream connection without going through the pool (whose per-origin idle
  /// limit would otherwise close connections that busy clients hand back all the time).
  struct Held {
    std::string key;
    tcp::socket socket;
    Clock::time_point since;
  };

  /// Parks the upstream connection the client used last in the worker's pool (at the end of the
  /// client connection, or when it asks for another origin).
  void release_held(SessionContext& ctx);
  /// Gives the buffers back while the client connection idles (the held connection stays).
  void release_memory();

  boost::beast::flat_buffer in;               ///< bytes from the upstream, one exchange at a time (kept while the client is busy)
  codec::http::HeaderSection response_fields; ///< the current response's fields
  std::string request_head;                   ///< the head sent upstream
  std::string response_head;                  ///< the head for the client, until it is sent
  const config::Route* shown_route = nullptr; ///< the route conn shows, with the generation of its snapshot
  std::uint64_t shown_generation = 0;
  std::optional<Held> held;
};

/// How an exchange ended: what the session does next on the client connection.
struct ExchangeEnd {
  enum class Then {
    go_on,           ///< wait for the client's next request
    close,           ///< end the connection (nothing more to send)
    reply,           ///< send the error reply `status`/`text`; the connection goes on if `keep`
    reply_and_close, ///< send the error reply `status`/`text` and end the connection
    linger,          ///< end the connection without losing the response (the client still sends body bytes)
  };
  Then then = Then::close;
  unsigned status = 0;
  std::string_view text; ///< a literal or the client's `result`
  bool keep = false;
};

/// One absolute-URI request forwarded, and its response. Lives for one request, on its session's
/// frame; everything that outlives it is in the HttpClient and HttpUpstreamSide it is given.
class HttpExchange {
public:
  using HeadParser = http_io::RequestParser<boost::beast::http::empty_body>;

  HttpExchange(HttpClient& client, HttpUpstreamSide& upstream, HeadParser& head, std::string method,
               const codec::http::RequestTarget& target, codec::http::Framing framing, const routing::Client& who,
               std::shared_ptr<const routing::Snapshot> snapshot);

  /// Forwards the request and streams the response back. Error replies are left to the session.
  awaitable<ExchangeEnd> run();

private:
  /// Where a forwarded request goes: the dial to make, and for an HTTP parent proxy as the
  /// route's last hop, what to tell it.
  struct UpstreamPlan {
    upstream::DialRequest dial;
    bool parent = false;
    std::string parent_name;
    std::string parent_authorization; ///< Proxy-Authorization value for the parent, if any
    std::string pool_key;
    std::string route_name; ///< for the per-route local DNS lookup counter
  };

  /// What one try of the exchange over one upstream connection came to (and, while it runs,
  /// what its upload and download tell each other).
  struct Attempt {
    bool request_complete = false;   ///< the whole request body was read from the client and sent
    bool response_started = false;   ///< a final response head went to the client
    bool response_complete = false;  ///< and its whole body
    bool upstream_reusable = false;  ///< the upstream connection may be parked for the next request
    bool client_keep_alive = false;  ///< the response framing lets the client connection go on
    bool client_failed = false;      ///< the client went away
    bool stale = false;              ///< the upstream closed before sending a byte (a dead pooled connection)
    bool bad_body = false;           ///< the client's request body was malformed
    bool stop_upload = false;        ///< the response side is done: the upload must not go on
    unsigned status = 0;
    error_code upstream_ec;          ///< why the upstream side failed
    std::string upstream_detail;     ///< words for the 502 body
  };

  /// How a body goes out to the client.
  enum class OutFraming { none, length, chunked, until_close };

  /// How the final response goes on to the client, decided from its head.
  struct FinalHead {
    OutFraming out = OutFraming::none;
    bool keep = false;                 ///< the client connection may go on after it
    bool upstream_keep = false;        ///< the upstream asked to keep its connection
    bool upstream_until_close = false; ///< the upstream's body ends with its connection
  };

  using ResponseHeadParser = http_io::ResponseParser<boost::beast::http::empty_body>;

  const config::Config& cfg() const { return *snapshot_->config; }

  // Before any upstream connection.
  void show_in_admin(const routing::Decision& decision);
  std::optional<ExchangeEnd> refusal(const Admission& admission);
  void plan_upstream(const routing::Verdict& verdict, const routing::Request& request);
  void build_request_head();

  // The upstream connection.
  bool take_open_connection(tcp::socket& up, int attempt);
  std::optional<ExchangeEnd> take_dialed(tcp::socket& up, upstream::DialResult& dial);
  ExchangeEnd failed_before_response(const Attempt& a);
  ExchangeEnd finished(Attempt& a, tcp::socket& up, bool reused);

  // Request up.
  awaitable<void> upload(tcp::socket& up, Attempt& a);

  // Response down.
  awaitable<void> download(tcp::socket& up, Attempt& a);
  void note_missing_head(http_io::HeadResult hr, const error_code& ec, bool first_head, Attempt& a);
  bool accept_final_head(unsigned status, Attempt& a);
  FinalHead prepare_final_head(ResponseHeadParser& rp, unsigned status, const Attempt& a);
  void prepare_interim_head(ResponseHeadParser& rp, unsigned status);
  awaitable<bool> stream_length_body(tcp::socket& up, std::uint64_t left, Attempt& a);
  awaitable<bool> stream_decoded_body(tcp::socket& up, ResponseHeadParser& rp, OutFraming out, Attempt& a);
  template <class Parts> awaitable<bool> send_response_piece(const Parts& parts, std::size_t body_bytes, Attempt& a);
  void stop_upload_if_unfinished(tcp::socket& up, Attempt& a);

  HttpClient& client_;
  HttpUpstreamSide& upstream_;
  HeadParser& head_;
  std::string method_;
  const codec::http::RequestTarget& target_;
  codec::http::Framing framing_;
  const routing::Client& who_;
  std::shared_ptr<const routing::Snapshot> snapshot_;
  // Read from the head before the upload takes its parser.
  bool http10_;
  bool has_body_;
  bool client_keep_;
  bool head_request_;
  std::string target_text_; ///< the target's authority, as the admin API and the log lines show it
  UpstreamPlan plan_;
};

} // namespace hopgate::frontend
