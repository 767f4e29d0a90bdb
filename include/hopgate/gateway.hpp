#pragma once
// Gateway: owns the io_contexts (one per worker), the listeners, the shared route snapshot, the
// admin API and the signals; applies reloads. A session lives on one io_context from accept to
// close; the acceptors hand new sockets to the workers round-robin.
#include "hopgate/admin/control.hpp"
#include "hopgate/config/config.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/frontend/session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace hopgate {

class Gateway final : public admin::Control {
public:
  /// `doc` is the config document `cfg` was loaded from; `path` the file it came from ("" if none).
  Gateway(config::Config cfg, nlohmann::json doc, std::string path);
  ~Gateway() override;

  /// Binds every listener; false (with a message) when one cannot be bound.
  bool bind(std::string& error);
  /// Serves until SIGINT/SIGTERM (or stop()) and the drain that follows; returns the exit code.
  int run();
  /// Starts the drain: stop accepting, let open connections finish within the grace period.
  void stop();

  // admin::Control
  std::vector<admin::ListenerStatus> listeners() const override;
  config::LoadResult reload_from_file() override;
  config::LoadResult apply(const nlohmann::json& doc) override;
  nlohmann::json config_document() const override;
  std::string config_path() const override { return path_; }
  Clock::time_point started() const override { return started_; }
  bool ready() const override;

  frontend::Shared& shared() { return shared_; }

private:
  struct BoundListener {
    std::string name;
    frontend::ListenerInfo info;
    bool admin = false;
    std::unique_ptr<tcp::acceptor> acceptor;
    tcp::endpoint endpoint;
  };

  awaitable<void> accept_loop(BoundListener& l);
  awaitable<void> drain();
  awaitable<void> handle_signals();
  void install(config::Config cfg, nlohmann::json doc);

  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::unique_ptr<frontend::Worker>> workers_;
  std::vector<std::thread> threads_;
  frontend::Shared shared_;
  std::vector<BoundListener> listeners_;
  std::atomic<std::size_t> next_worker_{0};
  std::unique_ptr<asio::signal_set> signals_;
  std::string path_;
  mutable std::mutex doc_mutex_;
  nlohmann::json doc_;
  std::uint64_t generation_ = 0;
  Clock::time_point started_ = Clock::now();
  std::atomic<bool> bound_{false};
  std::atomic<bool> stopping_{false};
};

} // namespace hopgate
