#include "hopgate/gateway.hpp"

#include "hopgate/admin/api.hpp"
#include "hopgate/upstream/dialer.hpp"
#include "hopgate/upstream/health.hpp"

#include <cerrno>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <algorithm>
#include <fstream>
#include <map>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

namespace hopgate {
namespace {

std::string endpoint_text(const tcp::endpoint& ep) {
  auto a = ep.address();
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(ep.port()) : a.to_string() + ":" + std::to_string(ep.port());
}

/// Many tunnels need many descriptors: take the hard limit.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void log_exception(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{}: {}", what, ex.what());
  }
}

} // namespace

Gateway::Gateway(config::Config cfg, nlohmann::json doc, std::string path) : path_(std::move(path)) {
  raise_fd_limit();
  unsigned n = cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    workers_.push_back(std::make_unique<frontend::Worker>(contexts_.back()->get_executor()));
  }
  install(std::move(cfg), std::move(doc));
}

Gateway::~Gateway() {
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void Gateway::install(config::Config cfg, nlohmann::json doc) {
  std::lock_guard lock(doc_mutex_);
  auto c = std::make_shared<const config::Config>(std::move(cfg));
  shared_.publish(routing::Snapshot::make(std::move(c), ++generation_));
  doc_ = std::move(doc);
}

std::vector<Gateway::ListenerPtr> Gateway::wanted_listeners(const config::Config& cfg, std::vector<std::string>* paths) {
  std::vector<ListenerPtr> out;
  auto add = [&](const std::optional<config::Listener>& l, const std::string& name, config::Protocol kind, bool admin) {
    if (!l) return;
    for (std::size_t i = 0; i < l->listen.size(); ++i) {
      auto b = std::make_shared<BoundListener>();
      b->name = name;
      b->admin = admin;
      b->configured = l->listen[i];
      b->info.kind = kind;
      b->info.protocols = l->protocols;
      out.push_back(std::move(b));
      if (paths) paths->push_back("/listeners/" + name + "/listen/" + std::to_string(i));
    }
  };
  add(cfg.listeners.http, "http", config::Protocol::http, false);
  add(cfg.listeners.socks, "socks", config::Protocol::socks, false);
  add(cfg.listeners.admin, "admin", config::Protocol::http, true);
  return out;
}

namespace {

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

/// Opens and binds (SO_REUSEADDR; IPv6 sockets take IPv6 only). `shared`: with SO_REUSEPORT,
/// so that each worker has a listening socket of its own on the same port and the kernel spreads
/// new connections over them (no thread woken for a connection another one takes).
error_code open_bound(tcp::acceptor& a, const tcp::endpoint& ep, bool shared) {
  error_code ec;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && shared) a.set_option(reuse_port(true), ec);
  if (!ec && ep.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
  if (!ec) a.bind(ep, ec);
  return ec;
}

error_code open_listening(tcp::acceptor& a, const tcp::endpoint& ep, bool shared) {
  auto ec = open_bound(a, ep, shared);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    a.close(ignored);
  }
  return ec;
}

/// Whether something already listens on `ep` (another hopgate included): a plain bind fails then.
/// SO_REUSEPORT would otherwise let a second process with the same user join the port silently
/// and take half its connections.
error_code port_taken(asio::io_context& ctx, const tcp::endpoint& ep) {
  if (ep.port() == 0) return {};
  tcp::acceptor probe(ctx);
  return open_bound(probe, ep, false);
}

} // namespace

error_code Gateway::open_acceptor(BoundListener& b) {
  const auto& ep = b.configured;
  // The admin API runs on the first worker only; the front ends get one socket per worker.
  bool shared = !b.admin && contexts_.size() > 1;
  b.worker_acceptors.clear();
  if (shared) {
    if (auto ec = port_taken(*contexts_[0], ep)) return ec;
  }
  b.acceptor = std::make_unique<tcp::acceptor>(*contexts_[0]);
  auto ec = open_listening(*b.acceptor, ep, shared);
  if (!ec) b.endpoint = b.acceptor->local_endpoint(ec);
  for (std::size_t w = 1; !ec && shared && w < contexts_.size(); ++w) {
    auto a = std::make_unique<tcp::acceptor>(*contexts_[w]);
    ec = open_listening(*a, b.endpoint, true); // port 0 resolved by the first bind
    if (!ec) b.worker_acceptors.push_back(std::move(a));
  }
  if (ec) {
    error_code ignored;
    b.acceptor->close(ignored);
    for (auto& a : b.worker_acceptors) a->close(ignored);
    b.worker_acceptors.clear();
  }
  return ec;
}

bool Gateway::bind(std::string& error) {
  // Signals are caught from before the first "listening" line: a supervisor (or a test) that
  // sends SIGTERM as soon as the ports are announced gets a clean drain, not the default action
  // (seen: exit by signal 15 under ASan, whose start-up is slow enough to open that window).
  if (!signals_) signals_ = std::make_unique<asio::signal_set>(*contexts_[0], SIGINT, SIGTERM, SIGHUP);
  auto cfg = shared_.current()->config;
  std::vector<std::string> paths;
  auto wanted = wanted_listeners(*cfg, &paths);
  std::lock_guard lock(listeners_mutex_);
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    auto& b = wanted[i];
    if (auto ec = open_acceptor(*b)) {
      error = "cannot listen on " + endpoint_text(b->configured) + " (" + paths[i] + "): " + ec.message();
      return false;
    }
    spdlog::info("listening {} {}", b->name, endpoint_text(b->endpoint));
    shared_.guard.own.add(b->endpoint);
    listeners_.push_back(std::move(b));
  }
  bound_ = true;
  return true;
}

void Gateway::start_accepting(const ListenerPtr& l) {
  co_spawn(*contexts_[0], accept_loop(l, 0), asio::detached);
  for (std::size_t i = 0; i < l->worker_acceptors.size(); ++i) co_spawn(*contexts_[i + 1], accept_loop(l, i + 1), asio::detached);
}

void Gateway::close_listener(const ListenerPtr& l) {
  // Each acceptor is closed by the thread that runs its accept loop, not under its feet.
  asio::post(*contexts_[0], [l] {
    error_code ignored;
    l->acceptor->close(ignored);
  });
  for (std::size_t i = 0; i < l->worker_acceptors.size(); ++i)
    asio::post(*contexts_[i + 1], [l, i] {
      error_code ignored;
      l->worker_acceptors[i]->close(ignored);
    });
}

awaitable<void> Gateway::accept_loop(ListenerPtr l, std::size_t w) {
  // Each worker accepts on its own SO_REUSEPORT socket and serves what it accepts: a connection
  // never changes threads, and no other thread wakes for it.
  tcp::acceptor& acceptor = w == 0 ? *l->acceptor : *l->worker_acceptors[w - 1];
  for (;;) {
    tcp::endpoint peer; // filled by accept itself: the session needs no getpeername
    auto [ec, socket] = co_await acceptor.async_accept(peer, use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or a transient error: back off instead of spinning or dying.
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE) fd_reserve_.release();
      static thread_local Clock::time_point last_log{};
      if (Clock::now() - last_log > std::chrono::seconds(5)) {
        spdlog::warn("accept on {} failed: {}; backing off", endpoint_text(l->endpoint), ec.message());
        last_log = Clock::now();
      }
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await t.async_wait(use_nothrow);
      fd_reserve_.restore();
      continue;
    }
    if (l->admin) {
      asio::co_spawn(socket.get_executor(), admin::serve_admin(std::move(socket), admin_sources_, *this),
                     [](std::exception_ptr e) { log_exception(e, "admin session"); });
    } else {
      frontend::ListenerInfo info;
      {
        // A reload may change what the port speaks (protocols) without re-binding it.
        std::lock_guard lock(listeners_mutex_);
        info = l->info;
      }
      auto ex = socket.get_executor();
      asio::co_spawn(ex, frontend::run_session(std::move(socket), frontend::SessionContext{shared_, *workers_[w], peer}, std::move(info)),
                     [](std::exception_ptr e) { log_exception(e, "session"); });
    }
  }
}

awaitable<void> Gateway::handle_signals() {
  for (;;) {
    auto [ec, sig] = co_await signals_->async_wait(use_nothrow);
    if (ec) co_return;
    if (sig == SIGHUP) {
      auto r = reload_from_file(admin::ChangeSource::signal);
      if (!r.ok())
        for (auto& e : r.errors) spdlog::error("reload refused: {}", e.to_string());
      continue;
    }
    spdlog::info("received signal {}: draining", sig);
    co_spawn(*contexts_[0], drain(), asio::detached);
    co_return;
  }
}

void Gateway::stop() {
  asio::post(*contexts_[0], [this] { co_spawn(*contexts_[0], drain(), asio::detached); });
}

awaitable<void> Gateway::drain() {
  if (stopping_.exchange(true)) co_return;
  shared_.draining = true;
  error_code ec;
  {
    // The admin API stays up while draining: /readyz says 503 and /api/v1/connections shows what is left.
    std::lock_guard lock(listeners_mutex_);
    for (auto& l : listeners_)
      if (!l->admin) close_listener(l);
  }
  auto grace = to_clock(shared_.current()->config->timeouts.shutdown_grace);
  auto deadline = Clock::now() + grace;
  asio::steady_timer t(co_await asio::this_coro::executor);
  while (shared_.registry.size() > 0 && Clock::now() < deadline) {
    t.expires_after(std::chrono::milliseconds(50));
    co_await t.async_wait(use_nothrow);
  }
  if (auto left = shared_.registry.size()) {
    spdlog::info("grace period over: closing {} open connection(s)", left);
    for (auto& c : shared_.registry.list()) shared_.registry.kill(c->id);
    t.expires_after(std::chrono::milliseconds(200));
    co_await t.async_wait(use_nothrow);
  }
  {
    std::lock_guard lock(listeners_mutex_);
    for (auto& l : listeners_) l->acceptor->close(ec); // the admin listener, on this thread
  }
  if (signals_) signals_->cancel(ec);
  spdlog::info("stopped");
  for (auto& c : contexts_) c->stop();
}

int Gateway::run() {
  if (!signals_) signals_ = std::make_unique<asio::signal_set>(*contexts_[0], SIGINT, SIGTERM, SIGHUP);
  co_spawn(*contexts_[0], handle_signals(), asio::detached);
  co_spawn(*contexts_[0], probe_loop(), asio::detached);
  {
    std::lock_guard lock(listeners_mutex_);
    for (auto& l : listeners_) start_accepting(l);
    accepting_ = true;
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& c : contexts_) guards.push_back(asio::make_work_guard(*c));
  for (std::size_t i = 1; i < contexts_.size(); ++i) threads_.emplace_back([c = contexts_[i].get()] { c->run(); });
  contexts_[0]->run();
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  return 0;
}

std::vector<admin::ListenerStatus> Gateway::listeners() const {
  std::vector<admin::ListenerStatus> out;
  std::lock_guard lock(listeners_mutex_);
  for (auto& l : listeners_) out.push_back({l->name, endpoint_text(l->endpoint), l->endpoint.port()});
  return out;
}

admin::ChangeResult Gateway::change(config::Config cfg, nlohmann::json doc, admin::ChangeSource source,
                                    std::optional<std::uint64_t> expected_generation) {
  using Status = admin::ChangeResult::Status;
  admin::ChangeResult r;
  auto current = shared_.current();
  r.generation = current->generation;
  if (stopping_) {
    r.status = Status::unavailable;
    r.errors.push_back({"", "draining: the config no longer changes"});
    return r;
  }
  if (expected_generation && *expected_generation != current->generation) {
    r.status = Status::conflict;
    r.errors.push_back({"", "expected generation " + std::to_string(*expected_generation) + ", running " +
                                std::to_string(current->generation)});
    return r;
  }
  if (cfg.workers != current->config->workers)
    spdlog::warn("/workers changed: the number of worker threads changes at the next restart");

  // Listeners: bind what is new before changing anything, so that a failure leaves all as it was.
  std::vector<ListenerPtr> added, removed;
  if (bound_) {
    std::vector<std::string> paths;
    auto wanted = wanted_listeners(cfg, &paths);
    std::lock_guard lock(listeners_mutex_);
    auto same = [](const BoundListener& a, const BoundListener& b) { return a.name == b.name && a.configured == b.configured; };
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      auto it = std::find_if(listeners_.begin(), listeners_.end(), [&](auto& l) { return same(*l, *wanted[i]); });
      if (it != listeners_.end()) continue;
      if (auto ec = open_acceptor(*wanted[i])) {
        r.status = Status::bind_failed;
        r.errors.push_back({paths[i], "cannot listen on " + endpoint_text(wanted[i]->configured) + ": " + ec.message()});
      } else {
        added.push_back(wanted[i]);
      }
    }
    if (!r.ok()) {
      for (auto& a : added) {
        // Never started: no accept loop runs on them yet.
        error_code ignored;
        a->acceptor->close(ignored);
        for (auto& wa : a->worker_acceptors) wa->close(ignored);
      }
      return r;
    }
    for (auto& l : listeners_) {
      auto it = std::find_if(wanted.begin(), wanted.end(), [&](auto& w) { return same(*l, *w); });
      if (it == wanted.end()) removed.push_back(l);
      else l->info = (*it)->info;
    }
  }

  install(std::move(cfg), std::move(doc));
  r.generation = shared_.current()->generation;

  if (bound_) {
    std::lock_guard lock(listeners_mutex_);
    for (auto& a : added) {
      spdlog::info("listening {} {}", a->name, endpoint_text(a->endpoint));
      listeners_.push_back(a);
      if (accepting_) start_accepting(a);
    }
    for (auto& old : removed) {
      spdlog::info("stopped listening {} {} (open connections stay)", old->name, endpoint_text(old->endpoint));
      listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), old), listeners_.end());
      close_listener(old);
    }
  }
  spdlog::info("config generation {} applied ({})", r.generation, admin::to_string(source));
  return r;
}

admin::ChangeResult Gateway::reload_from_file(admin::ChangeSource source) {
  std::lock_guard lock(change_mutex_);
  admin::ChangeResult r;
  r.generation = shared_.current()->generation;
  auto refuse = [&](admin::ChangeResult::Status status, std::string message) {
    r.status = status;
    r.errors.push_back({"", std::move(message)});
  };
  // Read the file once: the document kept for GET /api/v1/config is the one validated.
  std::optional<nlohmann::json> doc;
  if (path_.empty()) {
    refuse(admin::ChangeResult::Status::unavailable, "no config file to reload (started without one)");
  } else if (std::ifstream in(path_); !in) {
    refuse(admin::ChangeResult::Status::invalid, "cannot read config file " + path_);
  } else {
    try {
      doc = nlohmann::json::parse(in, nullptr, true, true);
    } catch (const nlohmann::json::parse_error& e) {
      refuse(admin::ChangeResult::Status::invalid, std::string("JSON syntax error in ") + path_ + ": " + e.what());
    }
  }
  if (doc && overlay_) {
    std::vector<config::ConfigError> errors;
    auto laid = overlay_(std::move(*doc), errors);
    doc.reset();
    if (!errors.empty() || !laid) {
      r.status = admin::ChangeResult::Status::invalid;
      r.errors = std::move(errors);
    } else {
      doc = std::move(*laid);
    }
  }
  if (doc) {
    auto loaded = config::load_config(*doc);
    if (!loaded.ok()) {
      r.status = admin::ChangeResult::Status::invalid;
      r.errors = std::move(loaded.errors);
    } else {
      r = change(std::move(*loaded.config), std::move(*doc), source, std::nullopt);
    }
  }
  shared_.stats.on_reload(admin::to_string(source), r.ok());
  if (!r.ok()) spdlog::warn("reload of {} refused ({}): {} error(s)", path_, admin::to_string(source), r.errors.size());
  return r;
}

admin::ChangeResult Gateway::apply(const nlohmann::json& doc, admin::ChangeSource source,
                                   std::optional<std::uint64_t> expected_generation) {
  std::lock_guard lock(change_mutex_);
  admin::ChangeResult r;
  auto loaded = config::load_config(doc);
  if (!loaded.ok()) {
    r.status = admin::ChangeResult::Status::invalid;
    r.errors = std::move(loaded.errors);
    r.generation = shared_.current()->generation;
  } else {
    r = change(std::move(*loaded.config), doc, source, expected_generation);
  }
  shared_.stats.on_reload(admin::to_string(source), r.ok());
  if (!r.ok()) spdlog::warn("config change refused ({}): {} error(s)", admin::to_string(source), r.errors.size());
  return r;
}

nlohmann::json Gateway::config_document() const {
  std::lock_guard lock(doc_mutex_);
  return doc_;
}

bool Gateway::ready() const { return bound_ && !shared_.draining; }

awaitable<void> Gateway::probe_loop() {
  std::map<std::string, Clock::time_point> next_probe;
  asio::steady_timer tick(co_await asio::this_coro::executor);
  while (!stopping_) {
    tick.expires_after(std::chrono::milliseconds(250));
    co_await tick.async_wait(use_nothrow);
    auto snapshot = shared_.current();
    const auto& cfg = *snapshot->config;
    auto used = [&](const std::string& name) {
      auto in = [&](const config::Via& v) { return std::find(v.chain.begin(), v.chain.end(), name) != v.chain.end(); };
      if (in(cfg.default_via)) return true;
      for (auto& r : cfg.routes)
        if (in(r.via)) return true;
      return false;
    };
    auto now = Clock::now();
    for (const auto& up : cfg.upstreams) {
      const auto* g = std::get_if<config::Group>(&up.kind);
      if (!g || g->probe_interval.count() <= 0 || g->probe.empty() || !used(up.name)) continue;
      auto& next = next_probe[up.name];
      if (now < next) continue;
      next = now + to_clock(g->probe_interval);
      auto target = TargetAddress::parse(g->probe);
      if (!target) continue;
      for (const auto& member : g->members) {
        // A probe is an ordinary dial through that one member: the dialer records its health.
        upstream::DialRequest req{snapshot, config::Via{config::Via::Kind::chain, {member}}, *target, {}, config::RemoteDns::any,
                                  routing::Command::connect};
        asio::co_spawn(
            *contexts_[0],
            [req, this]() -> awaitable<void> {
              auto r = co_await upstream::dial(req, workers_[0]->resolver);
              error_code ignored;
              r.socket.close(ignored);
            },
            asio::detached);
      }
    }
  }
}

nlohmann::json Gateway::upstream_health(std::string_view name) const {
  for (auto& h : upstream::Health::instance().view()) {
    if (h.name != name) continue;
    return {{"state", h.up ? "up" : "down"},
            {"last_error", h.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(h.last_error)},
            {"fail_count", h.recent_fails},
            {"latency_ms_ewma", h.latency_ms_ewma},
            {"active_connections", h.active},
            {"successes", h.successes},
            {"failures", h.failures},
            {"retry_in_s", h.retry_in_s}};
  }
  // Never dialled yet: presumed up.
  return {{"state", "up"}, {"last_error", nullptr}, {"fail_count", 0}, {"latency_ms_ewma", nullptr},
          {"active_connections", 0}, {"successes", 0}, {"failures", 0}, {"retry_in_s", 0}};
}

} // namespace hopgate
