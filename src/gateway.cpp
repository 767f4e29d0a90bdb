#include "hopgate/gateway.hpp"

#include "hopgate/admin/api.hpp"
#include "hopgate/config/loader.hpp"
#include "hopgate/upstream/health.hpp"
#include "hopgate/upstream/prober.hpp"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <fstream>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

namespace hopgate {
namespace {

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
  for (const auto& l : cfg.listeners.all)
    for (std::size_t i = 0; i < l.listen.size(); ++i) {
      out.push_back(std::make_shared<frontend::Listener>(l, l.listen[i]));
      if (paths) paths->push_back("/listeners/" + config::escape_pointer(l.name) + "/listen/" + std::to_string(i));
    }
  return out;
}

std::vector<asio::io_context*> Gateway::context_list() const {
  std::vector<asio::io_context*> out;
  for (auto& c : contexts_) out.push_back(c.get());
  return out;
}

frontend::AcceptHandler Gateway::handler_for(const frontend::Listener& l) {
  // The one table from listener kind to what serves its connections.
  switch (l.kind()) {
  case config::ListenerKind::admin:
    return [this](tcp::socket socket, const tcp::endpoint&, std::size_t) {
      auto ex = socket.get_executor();
      asio::co_spawn(ex, admin::serve_admin(std::move(socket), admin_sources_, *this),
                     [](std::exception_ptr e) { log_exception(e, "admin session"); });
    };
  case config::ListenerKind::http:
  case config::ListenerKind::socks:
    break;
  }
  return [this, &l](tcp::socket socket, const tcp::endpoint& peer, std::size_t worker) {
    auto ex = socket.get_executor();
    asio::co_spawn(ex, frontend::run_session(std::move(socket), frontend::SessionContext{shared_, *workers_[worker], peer, l.name()}),
                   [](std::exception_ptr e) { log_exception(e, "session"); });
  };
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
    if (auto ec = b->open(context_list())) {
      error = "cannot listen on " + frontend::endpoint_text(b->configured()) + " (" + paths[i] + "): " + ec.message();
      return false;
    }
    spdlog::info("listening {} {}", b->name(), frontend::endpoint_text(b->endpoint()));
    shared_.guard.own.add(b->endpoint());
    listeners_.push_back(std::move(b));
  }
  bound_ = true;
  return true;
}

void Gateway::start_accepting(const ListenerPtr& l) { l->start(handler_for(*l), fd_reserve_); }

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
      if (l->kind() != config::ListenerKind::admin) l->close();
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
    for (auto& l : listeners_)
      if (l->kind() == config::ListenerKind::admin) l->close_now(); // its one socket is this thread's
  }
  if (signals_) signals_->cancel(ec);
  spdlog::info("stopped");
  for (auto& c : contexts_) c->stop();
}

int Gateway::run() {
  if (!signals_) signals_ = std::make_unique<asio::signal_set>(*contexts_[0], SIGINT, SIGTERM, SIGHUP);
  co_spawn(*contexts_[0], handle_signals(), asio::detached);
  co_spawn(*contexts_[0], upstream::run_probes(shared_.routes, workers_[0]->resolver, stopping_), asio::detached);
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
  for (auto& l : listeners_) out.push_back({l->name(), frontend::endpoint_text(l->endpoint()), l->endpoint().port()});
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
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      if (std::any_of(listeners_.begin(), listeners_.end(), [&](auto& l) { return l->same(*wanted[i]); })) continue;
      if (auto ec = wanted[i]->open(context_list())) {
        r.status = Status::bind_failed;
        r.errors.push_back({paths[i], "cannot listen on " + frontend::endpoint_text(wanted[i]->configured()) + ": " + ec.message()});
      } else {
        added.push_back(wanted[i]);
      }
    }
    if (!r.ok()) {
      for (auto& a : added) a->close_now(); // never started: no accept loop runs on them yet
      return r;
    }
    // The others stay bound; what they speak comes from the new snapshot at the next accept.
    for (auto& l : listeners_)
      if (std::none_of(wanted.begin(), wanted.end(), [&](auto& w) { return l->same(*w); })) removed.push_back(l);
    std::erase_if(retired_, [](auto& r) { return r->stopped(); });
  }

  install(std::move(cfg), std::move(doc));
  r.generation = shared_.current()->generation;

  if (bound_) {
    std::lock_guard lock(listeners_mutex_);
    for (auto& a : added) {
      spdlog::info("listening {} {}", a->name(), frontend::endpoint_text(a->endpoint()));
      listeners_.push_back(a);
      if (accepting_) start_accepting(a);
    }
    for (auto& old : removed) {
      spdlog::info("stopped listening {} {} (open connections stay)", old->name(), frontend::endpoint_text(old->endpoint()));
      listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), old), listeners_.end());
      old->close();
      retired_.push_back(old); // its accept loops end on their own threads; pruned once stopped()
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
