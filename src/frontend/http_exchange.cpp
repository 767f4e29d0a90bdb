#include "hopgate/frontend/http_exchange.hpp"

#include "hopgate/codec/http_rewrite.hpp"
#include "hopgate/codec/http_target.hpp"
#include "hopgate/core/error_map.hpp"
#include "hopgate/frontend/route_request.hpp"
#include "hopgate/upstream/health.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>

namespace hopgate::frontend {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace hc = codec::http;
using namespace asio::experimental::awaitable_operators;
using namespace http_io;

namespace {

/// Idempotent methods (RFC 9110 §9.2.2) may be sent again on a fresh connection.
bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" || method == "PUT" ||
         method == "DELETE";
}

/// The limit on a response head: the request's limit, but never under 64 KiB.
std::uint32_t response_header_limit(const config::Config& cfg) {
  return static_cast<std::uint32_t>(
      std::min<std::size_t>(std::max<std::size_t>(cfg.http.max_header_bytes, 64 * 1024), std::numeric_limits<std::uint32_t>::max()));
}

/// An end with nothing to send.
ExchangeEnd ending(ExchangeEnd::Then then) { return {then, 0, {}, false}; }

/// An error reply from the proxy; the client connection goes on after it when `keep`.
ExchangeEnd error_reply(unsigned status, std::string_view text, bool keep) {
  return {ExchangeEnd::Then::reply, status, text, keep};
}

} // namespace

awaitable<bool> HttpClient::send(std::string_view text) {
  auto ec = co_await write_all(socket, asio::buffer(text), idle);
  if (!ec) conn.bytes.down.fetch_add(text.size(), std::memory_order_relaxed);
  co_return !ec;
}

void HttpClient::record_error(ProxyError e) {
  conn.set_error(e);
  conn.set("failed");
}

void HttpUpstreamSide::release_held(SessionContext& ctx) {
  if (!held) return;
  const auto& cfg = *ctx.current()->config;
  ctx.worker.http_pool.put(held->key, std::move(held->socket), cfg.http.pool_max_idle_per_origin,
                           to_clock(cfg.http.pool_idle_timeout));
  held.reset();
}

void HttpUpstreamSide::release_memory() {
  in.shrink_to_fit();
  response_fields.release();
  std::string().swap(request_head);
  std::string().swap(response_head);
}

HttpExchange::HttpExchange(HttpClient& client, HttpUpstreamSide& upstream, HeadParser& head, std::string method,
                           const hc::RequestTarget& target, hc::Framing framing, const routing::Client& who,
                           std::shared_ptr<const routing::Snapshot> snapshot)
    : client_(client), upstream_(upstream), head_(head), method_(std::move(method)), target_(target), framing_(framing),
      who_(who), snapshot_(std::move(snapshot)), http10_(head.get().version() == 10), has_body_(!head.is_done()),
      client_keep_(head.get().keep_alive()), head_request_(method_ == "HEAD"), target_text_(target.authority.to_string()) {}

awaitable<ExchangeEnd> HttpExchange::run() {
  routing::Request request{target_.authority, who_, routing::Command::connect};
  auto admission = co_await admit(client_.ctx, snapshot_, request, client_.conn);
  show_in_admin(admission.verdict.decision);
  client_.conn.set("connecting");
  if (auto refused = refusal(admission)) co_return *refused;
  plan_upstream(admission.verdict, request);
  build_request_head();

  bool retryable = idempotent(method_) && !has_body_;
  // The connection this client used last goes back to the pool when it asks for somewhere else.
  if (upstream_.held && upstream_.held->key != plan_.pool_key) upstream_.release_held(client_.ctx);
  for (int attempt = 0;; ++attempt) {
    tcp::socket up(client_.socket.get_executor());
    bool reused = take_open_connection(up, attempt);
    if (!reused) {
      auto dial = co_await upstream::dial(plan_.dial, client_.ctx.worker.resolver);
      if (auto failed = take_dialed(up, dial)) co_return *failed;
    }
    client_.conn.set("open");
    Attempt a;
    upstream_.in.clear();
    const auto& head = upstream_.request_head;
    auto wec = co_await write_all(up, asio::buffer(head), client_.idle);
    if (wec) {
      a.stale = true;
      a.upstream_ec = wec;
      a.upstream_detail = "sending the request failed: " + wec.message();
    } else {
      client_.conn.bytes.up.fetch_add(head.size(), std::memory_order_relaxed);
      if (has_body_) {
        co_await (upload(up, a) && download(up, a));
      } else {
        // Nothing to upload: no parallel group (two spawned coroutines) for the common GET.
        a.request_complete = true;
        co_await download(up, a);
      }
    }
    if (!a.response_started) {
      error_code ignored;
      up.close(ignored);
      if (a.stale && reused && retryable && attempt == 0 && !a.client_failed) {
        spdlog::debug("conn {} pooled connection to {} was closed; retrying on a new one", client_.conn.id,
                      target_text_);
        continue;
      }
      co_return failed_before_response(a);
    }
    co_return finished(a, up, reused);
  }
}

void HttpExchange::show_in_admin(const routing::Decision& decision) {
  auto& conn = client_.conn;
  if (conn.target != target_text_ || conn.user != who_.user || upstream_.shown_route != decision.route ||
      upstream_.shown_generation != snapshot_->generation) {
    // What the admin API shows changes only when a request goes somewhere else (only this
    // thread writes these fields, so it may read them without the lock).
    std::lock_guard lock(conn.mutex);
    conn.target = target_text_;
    conn.route = decision.rule_name();
    conn.hops = decision.via.display();
    conn.user = who_.user;
    upstream_.shown_route = decision.route;
    upstream_.shown_generation = snapshot_->generation;
  }
}

/// The error reply for a request the policy or its route refuses; nullopt: it may go.
std::optional<ExchangeEnd> HttpExchange::refusal(const Admission& admission) {
  const auto& verdict = admission.verdict;
  auto& result = client_.result;
  if (admission.policy) {
    // The same policy as every dial (connection limits, hopgate's own listeners, private
    // targets), asked per request: a kept-alive connection may go anywhere next.
    auto e = classify(admission.policy->ec);
    client_.record_error(e);
    result = admission.policy->message();
    return error_reply(http_status_for(e), result, client_keep_ && !has_body_ && e != ProxyError::over_limit);
  }
  if (verdict.refusal == routing::Verdict::Refusal::port_not_allowed) {
    client_.record_error(ProxyError::not_allowed);
    result = "route " + verdict.rule_name() + ": not allowed (port " + std::to_string(target_.authority.port) + ")";
    return error_reply(403, result, client_keep_ && !has_body_);
  }
  if (verdict.refusal == routing::Verdict::Refusal::blocked) {
    client_.record_error(ProxyError::blocked);
    result = "route " + verdict.rule_name() + ": " + error_code(ProxyError::blocked).message();
    return error_reply(403, result, client_keep_ && !has_body_);
  }
  return std::nullopt;
}

void HttpExchange::plan_upstream(const routing::Verdict& verdict, const routing::Request& request) {
  const auto& cfg = this->cfg();
  const auto& d = verdict.decision;
  const auto& who = request.client;
  auto& p = plan_;
  p.route_name = d.rule_name();
  p.dial = dial_request(snapshot_, verdict, request);
  std::string dest = target_text_;
  if (d.via.kind == config::Via::Kind::chain && !d.via.chain.empty()) {
    const auto* last = cfg.find_upstream(d.via.chain.back());
    // The last element may be a named chain: its last hop is the one that gets the request.
    // Most routes end in a SOCKS hop, so the hop list is built only for an HTTP parent.
    const auto* hop = last ? cfg.last_hop_of(*last) : nullptr;
    if (hop && hop->scheme == config::Hop::Scheme::http) {
      // An HTTP parent takes the request in absolute-form: reach it through the hops before it.
      auto last_hops = cfg.hops_of(*last);
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
  p.pool_key = HttpPool::key(snapshot_->generation, d.via.display(), dest, who.user);
}

void HttpExchange::build_request_head() {
  const auto& cfg = this->cfg();
  // The head that goes upstream: origin-form to an origin, absolute-form to a parent proxy.
  // The received fields are edited in place (see view_fields) and written out once.
  const std::string peer_text = cfg.http.x_forwarded_for ? client_.peer.to_string() : std::string();
  auto& section = client_.request_fields;
  hc::rewrite_request(section, target_, hc::RewriteOptions{cfg.http.via, cfg.http.x_forwarded_for, peer_text});
  hc::erase_fields(section.fields, "Content-Length");
  if (framing_.kind == hc::Framing::Kind::length)
    section.fields.push_back({"Content-Length", section.keep(std::to_string(framing_.length))});
  else if (framing_.kind == hc::Framing::Kind::chunked) section.fields.push_back({"Transfer-Encoding", "chunked"});
  if (plan_.parent && !plan_.parent_authorization.empty())
    section.fields.push_back({"Proxy-Authorization", plan_.parent_authorization});
  std::string& head = upstream_.request_head;
  head.clear();
  if (plan_.parent) hc::append_request_head(head, method_, hc::absolute_form(target_), section.fields);
  else hc::append_request_head(head, method_, target_.origin_form, section.fields);
}

/// Puts an open upstream connection in `up`: the one this client held, or the pool's (on the
/// first attempt only: a retry always dials afresh). False: there is none, dial.
bool HttpExchange::take_open_connection(tcp::socket& up, int attempt) {
  auto pool_idle = to_clock(cfg().http.pool_idle_timeout);
  std::optional<tcp::socket> pooled;
  if (auto& held = upstream_.held) {
    // Still open and not idle too long: the same upstream connection serves this client's next request.
    if (Clock::now() - held->since <= pool_idle && idle_connection_usable(held->socket)) pooled.emplace(std::move(held->socket));
    else {
      error_code ignored;
      held->socket.close(ignored);
    }
    held.reset();
  } else if (attempt == 0) {
    pooled = client_.ctx.worker.http_pool.take(plan_.pool_key, pool_idle);
  }
  if (!pooled) return false;
  up = std::move(*pooled);
  return true;
}

/// Takes a new dial's connection into `up`; the error reply when the dial failed or the last
/// hop spoke first.
std::optional<ExchangeEnd> HttpExchange::take_dialed(tcp::socket& up, upstream::DialResult& dial) {
  auto& result = client_.result;
  if (dial.local_lookups) client_.ctx.shared.stats.on_local_lookups(plan_.route_name, dial.local_lookups);
  if (dial.ec) {
    if (plan_.parent && dial.where == "direct") dial.where = "upstream " + plan_.parent_name;
    // The dial stopped short of the parent proxy: when the parent itself failed, its health knows.
    if (plan_.parent && dial.where == "upstream " + plan_.parent_name)
      upstream::Health::instance().record_failure(plan_.parent_name, dial.error_message(), 1, std::chrono::seconds(30));
    auto e = classify(dial.ec);
    client_.record_error(e);
    result = dial.error_message();
    spdlog::debug("conn {} {} {}: {}", client_.conn.id, method_, target_text_, result);
    return error_reply(http_status_for(e), result, client_keep_ && !has_body_);
  }
  up = std::move(dial.socket);
  if (plan_.parent) upstream::Health::instance().record_success(plan_.parent_name, dial.took);
  if (!dial.pending.empty()) {
    // Bytes from the last hop before we asked anything: not an HTTP conversation we can trust.
    client_.record_error(ProxyError::upstream_protocol_error);
    result = dial.where + ": unexpected bytes after the handshake";
    return error_reply(502, result, false);
  }
  return std::nullopt;
}

/// The attempt failed before any response reached the client (and will not be retried).
ExchangeEnd HttpExchange::failed_before_response(const Attempt& a) {
  auto& result = client_.result;
  if (a.client_failed) {
    result = "client closed";
    return ending(ExchangeEnd::Then::close);
  }
  if (a.bad_body) {
    result = "bad request: malformed body";
    return ExchangeEnd{ExchangeEnd::Then::reply_and_close, 400, "malformed request body", false};
  }
  auto e = a.upstream_ec == asio::error::timed_out ? ProxyError::timeout : classify(a.upstream_ec);
  if (e == ProxyError::ok || e == ProxyError::general_failure) e = ProxyError::upstream_protocol_error;
  client_.record_error(e);
  std::string where = plan_.parent ? "upstream " + plan_.parent_name : "origin " + target_text_;
  result = where + ": " + a.upstream_detail;
  return error_reply(http_status_for(e), result, a.request_complete && client_keep_);
}

/// A response went to the client: keeps the upstream connection when it can serve again.
ExchangeEnd HttpExchange::finished(Attempt& a, tcp::socket& up, bool reused) {
  auto& result = client_.result;
  result = "ok";
  spdlog::debug("conn {} {} {} -> {}{}", client_.conn.id, method_, target_text_, a.status,
                reused ? " (pooled connection)" : "");
  if (a.upstream_reusable && a.request_complete && a.response_complete)
    upstream_.held.emplace(HttpUpstreamSide::Held{plan_.pool_key, std::move(up), Clock::now()});
  else {
    error_code ignored;
    up.close(ignored);
  }
  if (!a.response_complete && !a.client_failed) result = "upstream failed mid-response: " + a.upstream_detail;
  if (a.client_failed) result = "client closed mid-response";
  if (a.response_complete && !a.request_complete && !a.client_failed) {
    // The origin answered before taking the whole body: the rest of it is still on its way.
    return ending(ExchangeEnd::Then::linger);
  }
  bool go_on = a.client_keep_alive && a.request_complete && a.response_complete && !a.client_failed &&
               !client_.ctx.shared.draining.load();
  return ending(go_on ? ExchangeEnd::Then::go_on : ExchangeEnd::Then::close);
}

/// Streams the request body from the client to the upstream (framed as it arrived).
/// Called only when the request has a body (run() skips it for the common GET).
awaitable<void> HttpExchange::upload(tcp::socket& up, Attempt& a) {
  RequestParser<bhttp::buffer_body> bp(std::move(head_));
  bp.eager(true);
  auto cap = body_buffer_size(bp);
  auto buf = std::make_unique_for_overwrite<char[]>(cap);
  bool chunked = framing_.kind == hc::Framing::Kind::chunked;
  for (;;) {
    error_code ec;
    auto n = co_await read_body(client_.socket, client_.in, bp, buf.get(), cap, client_.idle, ec);
    if (a.stop_upload) co_return;
    if (ec) {
      // The client is gone or sent a broken body: the upstream will never see a whole request,
      // so its connection is dropped (which also ends the response side).
      bool parse_error = ec.category() == bhttp::make_error_code(bhttp::error::partial_message).category() &&
                         ec != bhttp::error::partial_message;
      if (parse_error) a.bad_body = true;
      else a.client_failed = true;
      error_code ignored;
      up.close(ignored);
      co_return;
    }
    error_code wec;
    if (n == 0) {
      if (chunked) wec = co_await write_all(up, asio::buffer(std::string_view("0\r\n\r\n")), client_.idle);
      if (!wec) a.request_complete = true;
      co_return;
    }
    if (chunked) {
      char size_line[24];
      int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
      std::array<asio::const_buffer, 3> parts{asio::buffer(size_line, static_cast<std::size_t>(len)), asio::buffer(buf.get(), n),
                                              asio::buffer("\r\n", 2)};
      wec = co_await write_all(up, parts, client_.idle);
    } else {
      wec = co_await write_all(up, asio::buffer(buf.get(), n), client_.idle);
    }
    if (wec || a.stop_upload) co_return; // the upstream stopped reading: its response tells the rest
    client_.conn.bytes.up.fetch_add(n, std::memory_order_relaxed);
  }
}

/// Reads the response from the upstream and streams it to the client, interim 1xx included.
/// Every way out of the loop ends at stop_upload_if_unfinished (a break, never a co_return).
awaitable<void> HttpExchange::download(tcp::socket& up, Attempt& a) {
  auto& up_in = upstream_.in;
  for (bool first_head = true;; first_head = false) {
    // The arena takes the first head of the exchange; any after an interim (1xx) response go on
    // the heap and are freed with their parser, so that an upstream sending 1xx after 1xx
    // cannot grow the arena.
    auto rp = make_parser<ResponseHeadParser>(first_head ? client_.field_arena.current()
                                                         : FieldAllocator(std::pmr::new_delete_resource()));
    rp.header_limit(response_header_limit(cfg()));
    rp.body_limit(boost::none);
    if (head_request_) rp.skip(true);
    error_code ec;
    auto hr = co_await read_head(up, up_in, rp, client_.idle, ec, true);
    if (hr != HeadResult::ok) {
      note_missing_head(hr, ec, first_head, a);
      break;
    }
    unsigned status = rp.get().result_int();
    view_fields(rp.get(), upstream_.response_fields);
    if (status / 100 == 1) {
      if (status == 101) {
        a.upstream_ec = ProxyError::upstream_protocol_error;
        a.upstream_detail = "switched protocols although no upgrade was asked for";
        break;
      }
      // Interim responses (100 Continue for Expect) go on to HTTP/1.1 clients only.
      if (http10_) continue;
      prepare_interim_head(rp, status);
      bool sent = co_await client_.send(upstream_.response_head);
      if (!sent) {
        a.client_failed = true;
        break;
      }
      continue;
    }
    if (!accept_final_head(status, a)) break;
    a.status = status;
    auto final_head = prepare_final_head(rp, status, a);
    // The head goes out with the first piece of body when that is already here (one write,
    // one segment); otherwise at once, so that a slow body does not hold the head back.
    if (final_head.out == OutFraming::none || up_in.size() == 0) {
      a.response_started = true;
      bool sent = co_await client_.send(upstream_.response_head);
      if (!sent) {
        a.client_failed = true;
        break;
      }
      upstream_.response_head.clear();
    }
    bool streamed = true;
    if (final_head.out == OutFraming::length) streamed = co_await stream_length_body(up, *rp.content_length(), a);
    else if (final_head.out != OutFraming::none) streamed = co_await stream_decoded_body(up, rp, final_head.out, a);
    if (!streamed) break;
    a.response_complete = true;
    a.client_keep_alive = final_head.keep;
    a.upstream_reusable = final_head.upstream_keep && !final_head.upstream_until_close && up_in.size() == 0;
    break;
  }
  stop_upload_if_unfinished(up, a);
}

/// No response head came: why, in the attempt's words.
void HttpExchange::note_missing_head(HeadResult hr, const error_code& ec, bool first_head, Attempt& a) {
  a.stale = first_head && hr == HeadResult::closed;
  a.upstream_ec = hr == HeadResult::timeout ? error_code(asio::error::timed_out)
                  : (hr == HeadResult::closed || hr == HeadResult::failed) ? (ec ? ec : error_code(asio::error::eof))
                                                                           : error_code(ProxyError::upstream_protocol_error);
  a.upstream_detail = hr == HeadResult::timeout   ? "no response in time"
                      : hr == HeadResult::closed  ? "closed the connection without a response"
                      : hr == HeadResult::failed  ? "connection failed: " + ec.message()
                      : hr == HeadResult::too_large ? "response header section too large"
                                                    : "malformed response (" + ec.message() + ")";
}

/// False when the final response cannot go on to the client (the attempt says why).
bool HttpExchange::accept_final_head(unsigned status, Attempt& a) {
  if (plan_.parent && status == 407) {
    a.upstream_ec = ProxyError::upstream_auth_failed;
    a.upstream_detail = "upstream authentication failed (HTTP 407)";
    return false;
  }
  error_code fec;
  auto framing = hc::check_framing(upstream_.response_fields.fields, false, fec);
  if (!framing) {
    a.upstream_ec = ProxyError::upstream_protocol_error;
    a.upstream_detail = "response with " + fec.message();
    return false;
  }
  return true;
}

/// Decides how the final response goes on, and puts its rewritten head in response_head.
HttpExchange::FinalHead HttpExchange::prepare_final_head(ResponseHeadParser& rp, unsigned status, const Attempt& a) {
  auto& res = rp.get();
  auto& rf = upstream_.response_fields.fields;
  FinalHead f;
  // How the body goes on to the client: keep its length, re-chunk a chunked or read-until-close
  // body for HTTP/1.1 clients (so their connection can stay), send it raw to HTTP/1.0 clients.
  if (!rp.is_done()) {
    if (rp.content_length()) f.out = OutFraming::length;
    else f.out = http10_ ? OutFraming::until_close : OutFraming::chunked;
  }
  f.upstream_until_close = !rp.is_done() && !rp.chunked() && !rp.content_length();
  // A response that starts before the request body has all arrived ends the connection: what is
  // left of that body will not be read.
  f.keep = client_keep_ && f.out != OutFraming::until_close && a.request_complete && !client_.ctx.shared.draining.load();
  hc::rewrite_response(upstream_.response_fields, cfg().http.via);
  if (f.out == OutFraming::length)
    hc::set_field(rf, "Content-Length", upstream_.response_fields.keep(std::to_string(*rp.content_length())));
  else if (f.out != OutFraming::none) hc::erase_fields(rf, "Content-Length");
  if (f.out == OutFraming::chunked) rf.push_back({"Transfer-Encoding", "chunked"});
  if (!f.keep) rf.push_back({"Connection", "close"});
  else if (http10_) rf.push_back({"Connection", "keep-alive"});
  f.upstream_keep = res.keep_alive();
  std::string& pending_head = upstream_.response_head;
  pending_head.clear();
  hc::append_response_head(pending_head, status, reason_of(res, status), rf);
  return f;
}

/// Puts the interim response's rewritten head in response_head.
void HttpExchange::prepare_interim_head(ResponseHeadParser& rp, unsigned status) {
  hc::rewrite_response(upstream_.response_fields, "");
  upstream_.response_head.clear();
  hc::append_response_head(upstream_.response_head, status, reason_of(rp.get(), status), upstream_.response_fields.fields);
}

/// A Content-Length body goes on as it comes, straight from the read buffer: no body parser,
/// no copy into a body buffer. False when either side failed.
awaitable<bool> HttpExchange::stream_length_body(tcp::socket& up, std::uint64_t left, Attempt& a) {
  auto& up_in = upstream_.in;
  while (left > 0) {
    if (up_in.size() == 0) {
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, body_chunk));
      auto rec = co_await read_more(up, up_in, client_.idle, want, true);
      if (rec) {
        a.upstream_ec = rec == asio::error::eof ? error_code(bhttp::error::partial_message) : rec;
        a.upstream_detail = a.upstream_ec.message();
        co_return false;
      }
      continue;
    }
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, up_in.size()));
    std::array<asio::const_buffer, 2> parts{asio::buffer(upstream_.response_head), asio::buffer(up_in.data().data(), n)};
    bool sent = co_await send_response_piece(parts, n, a);
    if (!sent) co_return false;
    up_in.consume(n);
    left -= n;
  }
  co_return true;
}

/// A chunked or read-until-close body goes through a body parser, re-chunked for HTTP/1.1
/// clients. False when either side failed.
awaitable<bool> HttpExchange::stream_decoded_body(tcp::socket& up, ResponseHeadParser& rp, OutFraming out, Attempt& a) {
  ResponseParser<bhttp::buffer_body> bp(std::move(rp));
  bp.eager(true);
  auto cap = body_buffer_size(bp);
  auto buf = std::make_unique_for_overwrite<char[]>(cap);
  for (;;) {
    error_code bec;
    auto n = co_await read_body(up, upstream_.in, bp, buf.get(), cap, client_.idle, bec, true);
    if (bec) {
      a.upstream_ec = bec;
      a.upstream_detail = bec.message();
      co_return false;
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
    std::array<asio::const_buffer, 4> parts{asio::buffer(upstream_.response_head), asio::buffer(size_line, size_len),
                                            asio::buffer(buf.get(), n), asio::buffer(tail)};
    bool sent = co_await send_response_piece(parts, n, a);
    if (!sent) co_return false;
    if (n == 0) co_return true;
  }
}

/// Sends a piece of the response to the client, the head first while it is still pending;
/// false when the client is gone.
template <class Parts>
awaitable<bool> HttpExchange::send_response_piece(const Parts& parts, std::size_t body_bytes, Attempt& a) {
  a.response_started = true;
  // (The result of a co_await is kept in a variable before it is tested: GCC 12 miscompiles
  // some co_await expressions used directly as a condition.)
  auto ec = co_await write_all(client_.socket, parts, client_.idle);
  if (ec) {
    a.client_failed = true;
    co_return false;
  }
  auto& pending_head = upstream_.response_head;
  client_.conn.bytes.down.fetch_add(pending_head.size() + body_bytes, std::memory_order_relaxed);
  pending_head.clear();
  co_return true;
}

/// The exchange is over (or failed) while the client is still expected to send body bytes:
/// stop the upload wherever it waits; neither connection will be reused.
void HttpExchange::stop_upload_if_unfinished(tcp::socket& up, Attempt& a) {
  if (a.request_complete) return;
  a.stop_upload = true;
  error_code ignored;
  client_.socket.cancel(ignored);
  up.cancel(ignored);
}

} // namespace hopgate::frontend
