// The HTTP proxy front end. One coroutine serves one client connection, request after request:
// CONNECT becomes a tunnel (the relay), anything else with an absolute URI is forwarded over a
// pooled upstream connection, with the request body streamed up while the response streams
// down. Beast's parsers are driven by hand (put()) over reads that each carry a deadline, so
// every wait can be cancelled and every phase has its own timeout.
#include "hopgate/frontend/http_frontend.hpp"
#include "hopgate/frontend/http_io.hpp"
#include "hopgate/upstream/health.hpp"

#include "hopgate/codec/http_rewrite.hpp"
#include "hopgate/codec/http_target.hpp"
#include "hopgate/core/error.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/core/secret.hpp"
#include "hopgate/frontend/route_request.hpp"
#include "hopgate/frontend/target_policy.hpp"
#include "hopgate/relay/relay.hpp"
#include "hopgate/upstream/dialer.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <iterator>
#include <limits>
#include <memory>
#include <memory_resource>

namespace hopgate::frontend {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace hc = codec::http;
using namespace asio::experimental::awaitable_operators;

constexpr auto drain_check = std::chrono::milliseconds(500); ///< how often an idle keep-alive looks at draining
using namespace http_io;

/// Idempotent methods (RFC 9110 §9.2.2) may be sent again on a fresh connection.
bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" || method == "PUT" ||
         method == "DELETE";
}

/// How a body goes out to the client.
enum class OutFraming { none, length, chunked, until_close };

/// Where a forwarded request goes: the dial to make, and for an HTTP parent proxy as the route's
/// last hop, what to tell it.
struct UpstreamPlan {
  upstream::DialRequest dial;
  bool parent = false;
  std::string parent_name;
  std::string parent_authorization; ///< Proxy-Authorization value for the parent, if any
  std::string pool_key;
  std::string route_name; ///< for the per-route local DNS lookup counter
};

/// What one request/response exchange over an upstream connection came to.
struct Exchange {
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

class HttpSession {
public:
  HttpSession(tcp::socket& client, SessionContext& ctx, observe::Connection& conn, config::AuthMode auth)
      : client_(client), ctx_(ctx), conn_(conn), auth_(auth), peer_(ctx.peer.address()) {}

  awaitable<std::string> run(std::vector<std::uint8_t> buffered) {
    auto space = in_.prepare(buffered.size());
    in_.commit(asio::buffer_copy(space, asio::buffer(buffered)));
    for (bool first = true;; first = false) {
      auto snapshot = ctx_.current();
      const auto& cfg = *snapshot->config;
      idle_ = to_clock(cfg.timeouts.idle); // read once per request, used by every read and write
      if (!first) {
        conn_.set("idle");
        if (in_.size() == 0) {
          bool more = co_await wait_for_next_request(to_clock(cfg.timeouts.http_keepalive));
          if (!more) co_return summary();
        }
      }
      conn_.set("request");
      // The last request's parsers are gone: their fields' memory is taken back here.
      auto hp = make_parser<RequestParser<bhttp::empty_body>>(field_arena_.fresh());
      hp.header_limit(static_cast<std::uint32_t>(
          std::min<std::size_t>(cfg.http.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
      hp.body_limit(boost::none); // bodies are streamed, never held whole: no size limit needed
      error_code ec;
      auto hr = co_await read_head(client_, in_, hp, to_clock(cfg.timeouts.http_request), ec);
      switch (hr) {
      case HeadResult::ok: break;
      case HeadResult::closed: co_return requests_ ? summary() : std::string("closed before request");
      case HeadResult::failed: co_return requests_ ? summary() : "read failed: " + ec.message();
      case HeadResult::timeout:
        if (in_.size() > 0 || hp.got_some()) {
          co_await reply_and_close(408, "request head not received in time", false);
          co_return "request timeout";
        }
        co_return requests_ ? summary() : std::string("request timeout");
      case HeadResult::too_large:
        ctx_.shared.stats.on_handshake_error(config::Protocol::http, "header too large");
        co_await reply_and_close(431, "request header section over " + std::to_string(cfg.http.max_header_bytes) + " bytes",
                                 false);
        co_return "header too large";
      case HeadResult::bad:
        ctx_.shared.stats.on_handshake_error(config::Protocol::http, "bad request");
        co_await reply_and_close(400, framing_text(ec), false);
        co_return "bad request: " + ec.message();
      }
      ++requests_;
      bool keep = co_await handle(hp, snapshot);
      if (!keep) co_return summary();
    }
  }

private:
  std::string summary() const {
    if (!last_result_.empty() && requests_ <= 1) return last_result_;
    return (last_result_.empty() ? std::string("ok") : last_result_) + " (" + std::to_string(requests_) + " requests)";
  }

  /// Beast's framing errors read better in the proxy's words.
  static std::string framing_text(const error_code& ec) {
    if (ec == bhttp::error::bad_transfer_encoding) return "bad or conflicting Transfer-Encoding";
    if (ec == bhttp::error::bad_content_length) return "bad Content-Length or Content-Length with Transfer-Encoding";
    if (ec == bhttp::error::multiple_content_length) return hc::make_error_code(hc::HttpError::conflicting_content_length).message();
    return "malformed request (" + ec.message() + ")";
  }

  /// Waits for the next request's first byte, up to the keep-alive timeout; false when the
  /// client closed, the time passed, or the process is draining.
  awaitable<bool> wait_for_next_request(Clock::duration keepalive) {
    auto deadline = Clock::now() + keepalive;
    if (ctx_.shared.draining.load()) co_return false;
    {
      // A busy client's next request comes within moments: read it straight into the buffers
      // it had (no epoll re-arm, which a readiness wait costs, and no buffer freed and taken
      // again per request). A client quiet for longer gives them back and waits for readability.
      auto ec = co_await read_more(client_, in_, std::min<Clock::duration>(keepalive, drain_check), head_read);
      if (!ec) co_return true;
      if (ec != asio::error::timed_out) co_return false;
    }
    in_.shrink_to_fit(); // an idle keep-alive connection holds no buffer
    up_in_.shrink_to_fit();
    request_fields_.release();
    response_fields_.release();
    field_arena_.release();
    std::string().swap(request_head_);
    std::string().swap(response_head_);
    for (;;) {
      if (ctx_.shared.draining.load()) co_return false;
      auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) co_return false;
      auto [ec] = co_await with_deadline(client_.async_wait(tcp::socket::wait_read, use_nothrow), client_,
                                         std::min<Clock::duration>(left, drain_check));
      if (ec != asio::error::timed_out) co_return !ec;
    }
  }

  Clock::duration idle() const { return idle_; }

  awaitable<bool> send_client(std::string_view text) {
    auto ec = co_await write_all(client_, asio::buffer(text), idle());
    if (!ec) conn_.bytes.down.fetch_add(text.size(), std::memory_order_relaxed);
    co_return !ec;
  }

  /// Sends an error reply that ends the connection, then lingers (see linger()).
  awaitable<void> reply_and_close(unsigned status, std::string_view text, bool http10, const hc::Fields& extra = {}) {
    bool sent = co_await send_client(hc::proxy_reply(status, text, true, http10, extra));
    if (sent) co_await linger();
  }

  /// Ends the client connection without losing what we sent: stop sending, and read (and drop)
  /// what the client still sends for a moment, so that its unread bytes do not turn our last
  /// response into a reset before it reads it.
  awaitable<void> linger() {
    error_code ignored;
    client_.shutdown(tcp::socket::shutdown_send, ignored);
    auto deadline = Clock::now() + std::chrono::seconds(2);
    std::size_t drained = 0;
    while (drained < (4u << 20)) {
      in_.clear();
      auto ec = co_await read_more(client_, in_, deadline - Clock::now(), head_read);
      if (ec) break;
      drained += in_.size();
    }
    in_.clear();
  }

  /// Sends an error reply; keeps the connection when `keep` (the request had no body to skip).
  awaitable<bool> reply(unsigned status, std::string_view text, bool keep, bool http10, const hc::Fields& extra = {}) {
    keep = keep && !ctx_.shared.draining.load();
    if (!keep) {
      co_await reply_and_close(status, text, http10, extra);
      co_return false;
    }
    co_return co_await send_client(hc::proxy_reply(status, text, false, http10, extra));
  }

  void record_error(ProxyError e) {
    conn_.set_error(e);
    conn_.set("failed");
  }

  /// Checks Proxy-Authorization when the listener wants a password. nullopt: reply 407.
  std::optional<routing::Client> identify(const hc::Fields& fields, const config::Config& cfg) {
    routing::Client who{peer_, {}, {}, config::Protocol::http, ctx_.listener};
    if (auth_ != config::AuthMode::password) return who;
    const auto* f = hc::find_field(fields, "Proxy-Authorization");
    if (!f) return std::nullopt;
    error_code ec;
    auto creds = hc::decode_basic(f->value, ec);
    if (!creds) return std::nullopt;
    const auto* user = cfg.find_user(creds->username);
    // An unknown user costs the same comparison as a wrong password (core/secret.hpp).
    bool ok = secret_equals(creds->password, user ? std::string_view(user->password) : no_such_user_secret);
    if (!user || !ok) {
      spdlog::debug("conn {} proxy authentication failed for user \"{}\"", conn_.id, creds->username);
      return std::nullopt;
    }
    who.user = creds->username;
    who.password = std::move(creds->password);
    return who;
  }

  static hc::Fields auth_challenge() { return {{"Proxy-Authenticate", "Basic realm=\"hopgate\""}}; }

  /// One request whose head is in `hp`. Returns whether the client connection goes on.
  awaitable<bool> handle(RequestParser<bhttp::empty_body>& hp, std::shared_ptr<const routing::Snapshot> snapshot) {
    const auto& cfg = *snapshot->config;
    auto& req = hp.get();
    bool http10 = req.version() == 10;
    std::string method(req.method_string());
    std::string target_text(req.target());
    if (req.version() != 10 && req.version() != 11) {
      co_await reply_and_close(505, "only HTTP/1.0 and HTTP/1.1 are served", false);
      last_result_ = "bad version";
      co_return false;
    }
    view_fields(req, request_fields_);
    const auto& fields = request_fields_.fields;
    error_code ec;
    auto framing = hc::check_framing(fields, true, ec);
    if (!framing) {
      ctx_.shared.stats.on_handshake_error(config::Protocol::http, "bad framing");
      co_await reply_and_close(400, ec.message(), http10);
      last_result_ = "bad request: " + ec.message();
      co_return false;
    }
    bool has_body = !hp.is_done();
    bool client_keep = req.keep_alive() && !has_body;

    {
      // The connection's error (for stats) is the last request's: an earlier failure is history.
      conn_.set_error(ProxyError::ok);
    }
    if (req.method() == bhttp::verb::connect) co_return co_await handle_connect(target_text, fields, http10, cfg);

    auto target = hc::parse_absolute_target(target_text, ec);
    if (!target) {
      bool unsupported = ec == hc::HttpError::unsupported_scheme;
      if (!unsupported) ctx_.shared.stats.on_handshake_error(config::Protocol::http, "bad target");
      last_result_ = "bad request: " + ec.message();
      co_return co_await reply(unsupported ? 501 : 400, ec.message(), client_keep, http10);
    }
    auto who = identify(fields, cfg);
    if (!who) {
      ctx_.shared.stats.on_handshake_error(config::Protocol::http, "auth failed");
      last_result_ = "proxy authentication required";
      co_return co_await reply(407, "proxy authentication required", client_keep, http10, auth_challenge());
    }
    co_return co_await forward(hp, std::move(method), *target, *framing, *who, snapshot);
  }

  awaitable<bool> handle_connect(const std::string& target_text, const hc::Fields& fields, bool http10,
                                 const config::Config& cfg) {
    error_code ec;
    auto target = hc::parse_authority_target(target_text, ec);
    if (!target) {
      ctx_.shared.stats.on_handshake_error(config::Protocol::http, "bad target");
      last_result_ = "bad request: " + ec.message();
      co_await reply_and_close(400, ec.message(), http10);
      co_return false;
    }
    auto who = identify(fields, cfg);
    if (!who) {
      ctx_.shared.stats.on_handshake_error(config::Protocol::http, "auth failed");
      last_result_ = "proxy authentication required";
      co_return co_await reply(407, "proxy authentication required", true, http10, auth_challenge());
    }
    routing::Request request{target->authority, std::move(*who), routing::Command::connect};
    auto routed = co_await route_and_dial(ctx_, request, conn_);
    if (routed.dial.ec) {
      auto e = classify(routed.dial.ec);
      record_error(e);
      last_result_ = routed.dial.error_message();
      spdlog::debug("conn {} CONNECT {}: {}", conn_.id, target->authority.to_string(), last_result_);
      co_await reply_and_close(http_status_for(e), last_result_, http10);
      co_return false;
    }
    bool sent = co_await send_client("HTTP/1.1 200 Connection established\r\n\r\n");
    if (!sent) {
      last_result_ = "client closed";
      co_return false;
    }
    conn_.set("open");
    // The session relays it once this session's frames are gone (tunnel_plan.hpp).
    auto pending = bytes_of(in_);
    // A CONNECT after other requests on this connection: the access-log line still counts them.
    std::string log_note = requests_ > 1 ? " (" + std::to_string(requests_) + " requests)" : std::string();
    tunnel_.emplace(TunnelPlan{std::move(routed.dial.socket), {pending.begin(), pending.end()},
                               std::move(routed.dial.pending), std::move(routed.dial.holds), idle(), std::move(log_note)});
    in_.clear();
    last_result_ = "ok";
    co_return false;
  }

  UpstreamPlan plan(std::shared_ptr<const routing::Snapshot> snapshot, const routing::Verdict& verdict,
                    const routing::Request& request, const std::string& target_text) {
    const auto& cfg = *snapshot->config;
    const auto& d = verdict.decision;
    const auto& who = request.client;
    UpstreamPlan p;
    p.route_name = d.rule_name();
    p.dial = dial_request(snapshot, verdict, request);
    std::string dest = target_text;
    if (d.via.kind == config::Via::Kind::chain && !d.via.chain.empty()) {
      const auto* last = cfg.find_upstream(d.via.chain.back());
      // The last element may be a named chain: its last hop is the one that gets the request.
      auto last_hops = last ? cfg.hops_of(*last) : std::vector<config::NamedHop>{};
      const auto* hop = last_hops.empty() ? nullptr : last_hops.back().hop;
      if (hop && hop->scheme == config::Hop::Scheme::http) {
        // An HTTP parent takes the request in absolute-form: reach it through the hops before it.
        p.parent = true;
        p.parent_name = *last_hops.back().name;
        config::Via before = d.via;
        before.chain.pop_back();
        for (std::size_t i = 0; i + 1 < last_hops.size(); ++i) before.chain.push_back(*last_hops[i].name);
        if (before.chain.empty()) before.kind = config::Via::Kind::direct;
        p.dial.via = before;
        p.dial.target = TargetAddress::from_host(hop->host, hop->port);
        p.dial.remote_dns = config::RemoteDns::any; // the parent's own name comes from the config
        bool pass_client = hop->pass_client_credentials && !who.user.empty();
        const auto& user = pass_client ? who.user : hop->username;
        const auto& pass = pass_client ? who.password : hop->password;
        if (!user.empty()) p.parent_authorization = hc::encode_basic(user, pass);
        dest = "parent " + p.dial.target.to_string();
      }
    }
    p.pool_key = HttpPool::key(snapshot->generation, d.via.display(), dest, who.user);
    return p;
  }

  /// Forwards one absolute-URI request and its response. Returns whether the client goes on.
  awaitable<bool> forward(RequestParser<bhttp::empty_body>& hp, std::string method,
                          const hc::RequestTarget& target, hc::Framing framing, const routing::Client& who,
                          std::shared_ptr<const routing::Snapshot> snapshot) {
    const auto& cfg = *snapshot->config;
    bool http10 = hp.get().version() == 10;
    bool has_body = !hp.is_done();
    bool client_keep = hp.get().keep_alive();
    bool head_request = method == "HEAD";

    const std::string target_text = target.authority.to_string();
    routing::Request request{target.authority, who, routing::Command::connect};
    auto admission = co_await admit(ctx_, snapshot, request, conn_);
    const auto& verdict = admission.verdict;
    const auto& decision = verdict.decision;
    if (conn_.target != target_text || conn_.user != who.user || shown_route_ != decision.route ||
        shown_generation_ != snapshot->generation) {
      // What the admin API shows changes only when a request goes somewhere else (only this
      // thread writes these fields, so it may read them without the lock).
      std::lock_guard lock(conn_.mutex);
      conn_.target = target_text;
      conn_.route = decision.rule_name();
      conn_.hops = decision.via.display();
      conn_.user = who.user;
      shown_route_ = decision.route;
      shown_generation_ = snapshot->generation;
    }
    conn_.set("connecting");
    if (admission.policy) {
      // The same policy as every dial (connection limits, hopgate's own listeners, private
      // targets), asked per request: a kept-alive connection may go anywhere next.
      auto e = classify(admission.policy->ec);
      record_error(e);
      last_result_ = admission.policy->message();
      co_return co_await reply(http_status_for(e), last_result_, client_keep && !has_body && e != ProxyError::over_limit,
                               http10);
    }
    if (verdict.refusal == routing::Verdict::Refusal::port_not_allowed) {
      record_error(ProxyError::not_allowed);
      last_result_ = "route " + verdict.rule_name() + ": not allowed (port " + std::to_string(target.authority.port) + ")";
      co_return co_await reply(403, last_result_, client_keep && !has_body, http10);
    }
    if (verdict.refusal == routing::Verdict::Refusal::blocked) {
      record_error(ProxyError::blocked);
      last_result_ = "route " + verdict.rule_name() + ": " + error_code(ProxyError::blocked).message();
      co_return co_await reply(403, last_result_, client_keep && !has_body, http10);
    }
    auto up_plan = plan(snapshot, verdict, request, target_text);

    // The head that goes upstream: origin-form to an origin, absolute-form to a parent proxy.
    // The received fields are edited in place (see view_fields) and written out once.
    const std::string peer_text = cfg.http.x_forwarded_for ? peer_.to_string() : std::string();
    auto& section = request_fields_;
    hc::rewrite_request(section, target, hc::RewriteOptions{cfg.http.via, cfg.http.x_forwarded_for, peer_text});
    hc::erase_fields(section.fields, "Content-Length");
    if (framing.kind == hc::Framing::Kind::length)
      section.fields.push_back({"Content-Length", section.keep(std::to_string(framing.length))});
    else if (framing.kind == hc::Framing::Kind::chunked) section.fields.push_back({"Transfer-Encoding", "chunked"});
    if (up_plan.parent && !up_plan.parent_authorization.empty())
      section.fields.push_back({"Proxy-Authorization", up_plan.parent_authorization});
    std::string& head = request_head_;
    head.clear();
    if (up_plan.parent) hc::append_request_head(head, method, hc::absolute_form(target), section.fields);
    else hc::append_request_head(head, method, target.origin_form, section.fields);

    bool retryable = idempotent(method) && !has_body;
    auto& pool = ctx_.worker.http_pool;
    auto pool_idle = to_clock(cfg.http.pool_idle_timeout);
    // The connection this client used last goes back to the pool when it asks for somewhere else.
    if (held_ && held_->key != up_plan.pool_key) release_held();
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      tcp::socket up(client_.get_executor());
      std::optional<tcp::socket> pooled;
      if (held_) {
        // Still open and not idle too long: the same upstream connection serves this client's next request.
        if (Clock::now() - held_->since <= pool_idle && idle_connection_usable(held_->socket)) pooled.emplace(std::move(held_->socket));
        else {
          error_code ignored;
          held_->socket.close(ignored);
        }
        held_.reset();
      } else if (attempt == 0) {
        pooled = pool.take(up_plan.pool_key, pool_idle); // a retry always dials afresh
      }
      if (pooled) {
        up = std::move(*pooled);
        reused = true;
      } else {
        auto dial = co_await upstream::dial(up_plan.dial, ctx_.worker.resolver);
        if (dial.local_lookups) ctx_.shared.stats.on_local_lookups(up_plan.route_name, dial.local_lookups);
        if (dial.ec) {
          if (up_plan.parent && dial.where == "direct") dial.where = "upstream " + up_plan.parent_name;
          // The dial stopped short of the parent proxy: when the parent itself failed, its health knows.
          if (up_plan.parent && dial.where == "upstream " + up_plan.parent_name)
            upstream::Health::instance().record_failure(up_plan.parent_name, dial.error_message(), 1, std::chrono::seconds(30));
          auto e = classify(dial.ec);
          record_error(e);
          last_result_ = dial.error_message();
          spdlog::debug("conn {} {} {}: {}", conn_.id, method, target_text, last_result_);
          co_return co_await reply(http_status_for(e), last_result_, client_keep && !has_body, http10);
        }
        up = std::move(dial.socket);
        if (up_plan.parent) upstream::Health::instance().record_success(up_plan.parent_name, dial.took);
        if (!dial.pending.empty()) {
          // Bytes from the last hop before we asked anything: not an HTTP conversation we can trust.
          record_error(ProxyError::upstream_protocol_error);
          last_result_ = dial.where + ": unexpected bytes after the handshake";
          co_return co_await reply(502, last_result_, false, http10);
        }
      }
      conn_.set("open");
      Exchange ex;
      auto& up_in = up_in_;
      up_in.clear();
      auto wec = co_await write_all(up, asio::buffer(head), idle());
      if (wec) {
        ex.stale = true;
        ex.upstream_ec = wec;
        ex.upstream_detail = "sending the request failed: " + wec.message();
      } else {
        conn_.bytes.up.fetch_add(head.size(), std::memory_order_relaxed);
        if (has_body) {
          co_await (upload(hp, has_body, framing, up, ex) &&
                    download(up, up_in, head_request, http10, client_keep, up_plan, cfg, ex));
        } else {
          // Nothing to upload: no parallel group (two spawned coroutines) for the common GET.
          ex.request_complete = true;
          co_await download(up, up_in, head_request, http10, client_keep, up_plan, cfg, ex);
        }
      }
      if (!ex.response_started) {
        error_code ignored;
        up.close(ignored);
        if (ex.stale && reused && retryable && attempt == 0 && !ex.client_failed) {
          spdlog::debug("conn {} pooled connection to {} was closed; retrying on a new one", conn_.id,
                        target_text);
          continue;
        }
        if (ex.client_failed) {
          last_result_ = "client closed";
          co_return false;
        }
        if (ex.bad_body) {
          last_result_ = "bad request: malformed body";
          co_await reply_and_close(400, "malformed request body", http10);
          co_return false;
        }
        auto e = ex.upstream_ec == asio::error::timed_out ? ProxyError::timeout : classify(ex.upstream_ec);
        if (e == ProxyError::ok || e == ProxyError::general_failure) e = ProxyError::upstream_protocol_error;
        if (ex.upstream_ec == asio::error::timed_out) e = ProxyError::timeout;
        record_error(e);
        std::string where = up_plan.parent ? "upstream " + up_plan.parent_name : "origin " + target_text;
        last_result_ = where + ": " + ex.upstream_detail;
        co_return co_await reply(http_status_for(e), last_result_, ex.request_complete && client_keep, http10);
      }
      last_result_ = "ok";
      spdlog::debug("conn {} {} {} -> {}{}", conn_.id, method, target_text, ex.status,
                    reused ? " (pooled connection)" : "");
      if (ex.upstream_reusable && ex.request_complete && ex.response_complete)
        held_.emplace(Held{up_plan.pool_key, std::move(up), Clock::now()});
      else {
        error_code ignored;
        up.close(ignored);
      }
      if (!ex.response_complete && !ex.client_failed) last_result_ = "upstream failed mid-response: " + ex.upstream_detail;
      if (ex.client_failed) last_result_ = "client closed mid-response";
      if (ex.response_complete && !ex.request_complete && !ex.client_failed) {
        // The origin answered before taking the whole body: the rest of it is still on its way.
        co_await linger();
        co_return false;
      }
      co_return ex.client_keep_alive && ex.request_complete && ex.response_complete && !ex.client_failed &&
          !ctx_.shared.draining.load();
    }
  }

  /// Streams the request body from the client to the upstream (framed as it arrived).
  awaitable<void> upload(RequestParser<bhttp::empty_body>& hp, bool has_body, hc::Framing framing, tcp::socket& up,
                         Exchange& ex) {
    if (!has_body) {
      ex.request_complete = true;
      co_return;
    }
    RequestParser<bhttp::buffer_body> bp(std::move(hp));
    bp.eager(true);
    auto cap = body_buffer_size(bp);
    auto buf = std::make_unique_for_overwrite<char[]>(cap);
    bool chunked = framing.kind == hc::Framing::Kind::chunked;
    for (;;) {
      error_code ec;
      auto n = co_await read_body(client_, in_, bp, buf.get(), cap, idle(), ec);
      if (ex.stop_upload) co_return;
      if (ec) {
        // The client is gone or sent a broken body: the upstream will never see a whole request,
        // so its connection is dropped (which also ends the response side).
        bool parse_error = ec.category() == bhttp::make_error_code(bhttp::error::partial_message).category() &&
                           ec != bhttp::error::partial_message;
        if (parse_error) ex.bad_body = true;
        else ex.client_failed = true;
        error_code ignored;
        up.close(ignored);
        co_return;
      }
      error_code wec;
      if (n == 0) {
        if (chunked) wec = co_await write_all(up, asio::buffer(std::string_view("0\r\n\r\n")), idle());
        if (!wec) ex.request_complete = true;
        co_return;
      }
      if (chunked) {
        char size_line[24];
        int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
        std::array<asio::const_buffer, 3> parts{asio::buffer(size_line, static_cast<std::size_t>(len)), asio::buffer(buf.get(), n),
                                                asio::buffer("\r\n", 2)};
        wec = co_await write_all(up, parts, idle());
      } else {
        wec = co_await write_all(up, asio::buffer(buf.get(), n), idle());
      }
      if (wec || ex.stop_upload) co_return; // the upstream stopped reading: its response tells the rest
      conn_.bytes.up.fetch_add(n, std::memory_order_relaxed);
    }
  }

  /// Reads the response from the upstream and streams it to the client, interim 1xx included.
  awaitable<void> download(tcp::socket& up, beast::flat_buffer& up_in, bool head_request, bool http10, bool client_keep,
                           const UpstreamPlan& plan, const config::Config& cfg, Exchange& ex) {
    co_await download_inner(up, up_in, head_request, http10, client_keep, plan, cfg, ex);
    if (!ex.request_complete) {
      // The exchange is over (or failed) while the client is still expected to send body bytes:
      // stop the upload wherever it waits; neither connection will be reused.
      ex.stop_upload = true;
      error_code ignored;
      client_.cancel(ignored);
      up.cancel(ignored);
    }
  }

  /// Sends a piece of the response to the client, the head first while it is still pending;
  /// false when the client is gone.
  template <class Parts>
  awaitable<bool> send_response_piece(const Parts& parts, std::string& pending_head, std::size_t body_bytes, Exchange& ex) {
    ex.response_started = true;
    // (The result of a co_await is kept in a variable before it is tested: GCC 12 miscompiles
    // some co_await expressions used directly as a condition.)
    auto ec = co_await write_all(client_, parts, idle());
    if (ec) {
      ex.client_failed = true;
      co_return false;
    }
    conn_.bytes.down.fetch_add(pending_head.size() + body_bytes, std::memory_order_relaxed);
    pending_head.clear();
    co_return true;
  }

  awaitable<void> download_inner(tcp::socket& up, beast::flat_buffer& up_in, bool head_request, bool http10,
                                 bool client_keep, const UpstreamPlan& plan, const config::Config& cfg, Exchange& ex) {
    auto limit = static_cast<std::uint32_t>(
        std::min<std::size_t>(std::max<std::size_t>(cfg.http.max_header_bytes, 64 * 1024), std::numeric_limits<std::uint32_t>::max()));
    bool first_byte = true;
    for (;;) {
      // The arena takes the first head of the exchange; any after an interim (1xx) response go on
      // the heap and are freed with their parser, so that an upstream sending 1xx after 1xx
      // cannot grow the arena.
      auto rp = make_parser<ResponseParser<bhttp::empty_body>>(first_byte ? field_arena_.current()
                                                                          : FieldAllocator(std::pmr::new_delete_resource()));
      rp.header_limit(limit);
      rp.body_limit(boost::none);
      if (head_request) rp.skip(true);
      error_code ec;
      auto hr = co_await read_head(up, up_in, rp, idle(), ec, true);
      if (hr != HeadResult::ok) {
        ex.stale = first_byte && hr == HeadResult::closed;
        ex.upstream_ec = hr == HeadResult::timeout ? error_code(asio::error::timed_out)
                         : (hr == HeadResult::closed || hr == HeadResult::failed) ? (ec ? ec : error_code(asio::error::eof))
                                                                                  : error_code(ProxyError::upstream_protocol_error);
        ex.upstream_detail = hr == HeadResult::timeout   ? "no response in time"
                             : hr == HeadResult::closed  ? "closed the connection without a response"
                             : hr == HeadResult::failed  ? "connection failed: " + ec.message()
                             : hr == HeadResult::too_large ? "response header section too large"
                                                           : "malformed response (" + ec.message() + ")";
        co_return;
      }
      first_byte = false;
      auto& res = rp.get();
      unsigned status = res.result_int();
      view_fields(res, response_fields_);
      auto& rf = response_fields_.fields;
      if (status / 100 == 1) {
        if (status == 101) {
          ex.upstream_ec = ProxyError::upstream_protocol_error;
          ex.upstream_detail = "switched protocols although no upgrade was asked for";
          co_return;
        }
        // Interim responses (100 Continue for Expect) go on to HTTP/1.1 clients only.
        if (!http10) {
          hc::rewrite_response(response_fields_, "");
          response_head_.clear();
          hc::append_response_head(response_head_, status, reason_of(res, status), rf);
          bool sent = co_await send_client(response_head_);
          if (!sent) {
            ex.client_failed = true;
            co_return;
          }
        }
        continue;
      }
      if (plan.parent && status == 407) {
        ex.upstream_ec = ProxyError::upstream_auth_failed;
        ex.upstream_detail = "upstream authentication failed (HTTP 407)";
        co_return;
      }
      error_code fec;
      auto framing = hc::check_framing(rf, false, fec);
      if (!framing) {
        ex.upstream_ec = ProxyError::upstream_protocol_error;
        ex.upstream_detail = "response with " + fec.message();
        co_return;
      }
      ex.status = status;
      // How the body goes on to the client: keep its length, re-chunk a chunked or read-until-close
      // body for HTTP/1.1 clients (so their connection can stay), send it raw to HTTP/1.0 clients.
      OutFraming out = OutFraming::none;
      if (!rp.is_done()) {
        if (rp.content_length()) out = OutFraming::length;
        else out = http10 ? OutFraming::until_close : OutFraming::chunked;
      }
      bool upstream_until_close = !rp.is_done() && !rp.chunked() && !rp.content_length();
      // A response that starts before the request body has all arrived ends the connection: what is
      // left of that body will not be read.
      bool keep = client_keep && out != OutFraming::until_close && ex.request_complete && !ctx_.shared.draining.load();
      hc::rewrite_response(response_fields_, cfg.http.via);
      if (out == OutFraming::length)
        hc::set_field(rf, "Content-Length", response_fields_.keep(std::to_string(*rp.content_length())));
      else if (out != OutFraming::none) hc::erase_fields(rf, "Content-Length");
      if (out == OutFraming::chunked) rf.push_back({"Transfer-Encoding", "chunked"});
      if (!keep) rf.push_back({"Connection", "close"});
      else if (http10) rf.push_back({"Connection", "keep-alive"});
      bool upstream_keep = res.keep_alive();
      // The head goes out with the first piece of body when that is already here (one write,
      // one segment); otherwise at once, so that a slow body does not hold the head back.
      std::string& pending_head = response_head_;
      pending_head.clear();
      hc::append_response_head(pending_head, status, reason_of(res, status), rf);
      if (out == OutFraming::none || up_in.size() == 0) {
        ex.response_started = true;
        bool sent = co_await send_client(pending_head);
        if (!sent) {
          ex.client_failed = true;
          co_return;
        }
        pending_head.clear();
      }
      if (out == OutFraming::length) {
        // A Content-Length body goes on as it comes, straight from the read buffer: no body
        // parser, no copy into a body buffer.
        std::uint64_t left = *rp.content_length();
        while (left > 0) {
          if (up_in.size() == 0) {
            auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, body_chunk));
            auto rec = co_await read_more(up, up_in, idle(), want, true);
            if (rec) {
              ex.upstream_ec = rec == asio::error::eof ? error_code(bhttp::error::partial_message) : rec;
              ex.upstream_detail = ex.upstream_ec.message();
              co_return;
            }
            continue;
          }
          auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, up_in.size()));
          std::array<asio::const_buffer, 2> parts{asio::buffer(pending_head), asio::buffer(up_in.data().data(), n)};
          bool sent = co_await send_response_piece(parts, pending_head, n, ex);
          if (!sent) co_return;
          up_in.consume(n);
          left -= n;
        }
      } else if (out != OutFraming::none) {
        ResponseParser<bhttp::buffer_body> bp(std::move(rp));
        bp.eager(true);
        auto cap = body_buffer_size(bp);
        auto buf = std::make_unique_for_overwrite<char[]>(cap);
        for (;;) {
          error_code bec;
          auto n = co_await read_body(up, up_in, bp, buf.get(), cap, idle(), bec, true);
          if (bec) {
            ex.upstream_ec = bec;
            ex.upstream_detail = bec.message();
            co_return;
          }
          // Head (if still pending), chunk size line, data, chunk end: one gather write.
          char size_line[24];
          std::size_t size_len = 0;
          std::string_view tail;
          if (out == OutFraming::chunked && n > 0) {
            size_len = static_cast<std::size_t>(std::snprintf(size_line, sizeof size_line, "%zx\r\n", n));
            tail = "\r\n";
          } else if (out == OutFraming::chunked) {
            tail = "0\r\n\r\n";
          }
          std::array<asio::const_buffer, 4> parts{asio::buffer(pending_head), asio::buffer(size_line, size_len),
                                                  asio::buffer(buf.get(), n), asio::buffer(tail)};
          bool sent = co_await send_response_piece(parts, pending_head, n, ex);
          if (!sent) co_return;
          if (n == 0) break;
        }
      }
      ex.response_complete = true;
      ex.client_keep_alive = keep;
      ex.upstream_reusable = upstream_keep && !upstream_until_close && up_in.size() == 0;
      co_return;
    }
  }

public:
  /// Parks the upstream connection the client used last in the worker's pool (at the end of the
  /// client connection, or when it asks for another origin).
  void release_held() {
    if (!held_) return;
    const auto& cfg = *ctx_.current()->config;
    ctx_.worker.http_pool.put(held_->key, std::move(held_->socket), cfg.http.pool_max_idle_per_origin,
                              to_clock(cfg.http.pool_idle_timeout));
    held_.reset();
  }

  /// The tunnel a CONNECT left to relay, if any.
  std::optional<TunnelPlan> take_tunnel() { return std::move(tunnel_); }

private:
  /// An upstream connection kept for this client between its requests: a kept-alive client
  /// reuses its own upstream connection without going through the pool (whose per-origin idle
  /// limit would otherwise close connections that busy clients hand back all the time).
  struct Held {
    std::string key;
    tcp::socket socket;
    Clock::time_point since;
  };

  tcp::socket& client_;
  SessionContext& ctx_;
  observe::Connection& conn_;
  config::AuthMode auth_;
  asio::ip::address peer_;
  beast::flat_buffer in_; ///< bytes from the client not yet parsed (pipelined requests, tunnel data)
  beast::flat_buffer up_in_; ///< bytes from the upstream, one exchange at a time (kept while the client is busy)
  // Kept from request to request so that a busy connection's heads allocate nothing once warm.
  FieldArena field_arena_;            ///< where the parsers keep the current request's and responses' fields
  hc::HeaderSection request_fields_;  ///< the current request's fields, rewritten in place
  hc::HeaderSection response_fields_; ///< the current response's
  std::string request_head_;          ///< the head sent upstream
  std::string response_head_;         ///< the head for the client, until it is sent
  Clock::duration idle_{};   ///< timeouts.idle of the snapshot the current request uses
  const config::Route* shown_route_ = nullptr; ///< the route conn_ shows, with the generation of its snapshot
  std::uint64_t shown_generation_ = 0;
  std::size_t requests_ = 0;
  std::string last_result_;
  std::optional<Held> held_;
  std::optional<TunnelPlan> tunnel_; ///< set by a CONNECT that succeeded
};

} // namespace

awaitable<std::string> serve_http(tcp::socket& client, SessionContext& ctx, observe::Connection& conn,
                                  std::vector<std::uint8_t> buffered, config::AuthMode auth,
                                  std::optional<TunnelPlan>& tunnel) {
  HttpSession session(client, ctx, conn, auth);
  auto result = co_await session.run(std::move(buffered));
  session.release_held();
  tunnel = session.take_tunnel();
  co_return result;
}

} // namespace hopgate::frontend
