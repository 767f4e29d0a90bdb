#include "hopgate/gateway.hpp"

#include "hopgate/admin/api.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <fstream>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

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
  shared_.snapshot.store(routing::Snapshot::make(std::move(c), ++generation_), std::memory_order_release);
  doc_ = std::move(doc);
}

bool Gateway::bind(std::string& error) {
  auto cfg = shared_.current()->config;
  auto add = [&](const std::optional<config::Listener>& l, const std::string& name, config::Protocol kind, bool admin) {
    if (!l) return true;
    for (const auto& ep : l->listen) {
      BoundListener b;
      b.name = name;
      b.admin = admin;
      b.info.kind = kind;
      b.info.protocols = l->protocols;
      b.acceptor = std::make_unique<tcp::acceptor>(*contexts_[0]);
      error_code ec;
      b.acceptor->open(ep.protocol(), ec);
      if (!ec) b.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec && ep.address().is_v6()) b.acceptor->set_option(asio::ip::v6_only(true), ec);
      if (!ec) b.acceptor->bind(ep, ec);
      if (!ec) b.acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        error = "cannot listen on " + endpoint_text(ep) + " (/listeners/" + name + "): " + ec.message();
        return false;
      }
      b.endpoint = b.acceptor->local_endpoint(ec);
      spdlog::info("listening {} {}", name, endpoint_text(b.endpoint));
      listeners_.push_back(std::move(b));
    }
    return true;
  };
  bool ok = add(cfg->listeners.http, "http", config::Protocol::http, false) &&
            add(cfg->listeners.socks, "socks", config::Protocol::socks, false) &&
            add(cfg->listeners.admin, "admin", config::Protocol::http, true);
  bound_ = ok;
  return ok;
}

awaitable<void> Gateway::accept_loop(BoundListener& l) {
  for (;;) {
    std::size_t w = l.admin ? 0 : next_worker_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
    auto [ec, socket] = co_await l.acceptor->async_accept(contexts_[w]->get_executor(), use_nothrow);
    if (ec == asio::error::operation_aborted || !l.acceptor->is_open()) co_return;
    if (ec) {
      // Out of descriptors or a transient error: back off instead of spinning or dying.
      static thread_local Clock::time_point last_log{};
      if (Clock::now() - last_log > std::chrono::seconds(5)) {
        spdlog::warn("accept on {} failed: {}; backing off", endpoint_text(l.endpoint), ec.message());
        last_log = Clock::now();
      }
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
      co_await t.async_wait(use_nothrow);
      continue;
    }
    if (l.admin) {
      asio::co_spawn(socket.get_executor(), admin::serve_admin(std::move(socket), shared_, *this),
                     [](std::exception_ptr e) { log_exception(e, "admin session"); });
    } else {
      auto ex = socket.get_executor();
      asio::co_spawn(ex, frontend::run_session(std::move(socket), frontend::SessionContext{shared_, *workers_[w]}, l.info),
                     [](std::exception_ptr e) { log_exception(e, "session"); });
    }
  }
}

awaitable<void> Gateway::handle_signals() {
  for (;;) {
    auto [ec, sig] = co_await signals_->async_wait(use_nothrow);
    if (ec) co_return;
    if (sig == SIGHUP) {
      auto r = reload_from_file();
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
  for (auto& l : listeners_)
    if (!l.admin) l.acceptor->close(ec);
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
  for (auto& l : listeners_) l.acceptor->close(ec);
  if (signals_) signals_->cancel(ec);
  spdlog::info("stopped");
  for (auto& c : contexts_) c->stop();
}

int Gateway::run() {
  signals_ = std::make_unique<asio::signal_set>(*contexts_[0], SIGINT, SIGTERM, SIGHUP);
  co_spawn(*contexts_[0], handle_signals(), asio::detached);
  for (auto& l : listeners_) co_spawn(*contexts_[0], accept_loop(l), asio::detached);
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
  for (auto& l : listeners_) out.push_back({l.name, endpoint_text(l.endpoint)});
  return out;
}

config::LoadResult Gateway::reload_from_file() {
  if (path_.empty()) return {std::nullopt, {{"", "no config file to reload (started without --config)"}}};
  auto r = config::load_config_file(path_);
  if (!r.ok()) return r;
  nlohmann::json doc;
  try {
    std::ifstream in(path_);
    doc = nlohmann::json::parse(in, nullptr, true, true);
  } catch (const std::exception& e) {
    return {std::nullopt, {{"", e.what()}}};
  }
  install(*r.config, std::move(doc));
  spdlog::info("reloaded {} (generation {})", path_, generation_);
  return r;
}

config::LoadResult Gateway::apply(const nlohmann::json& doc) {
  auto r = config::load_config(doc);
  if (!r.ok()) return r;
  install(*r.config, doc);
  spdlog::info("applied new config (generation {})", generation_);
  return r;
}

nlohmann::json Gateway::config_document() const {
  std::lock_guard lock(doc_mutex_);
  return doc_;
}

bool Gateway::ready() const { return bound_ && !shared_.draining; }

} // namespace hopgate
