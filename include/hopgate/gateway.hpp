#pragma once
// Gateway: owns the io_contexts (one per worker), the listeners, the shared route snapshot, the
// admin API and the signals; applies reloads. A session lives on one io_context from accept to
// close; each worker accepts on its own copy of every listening socket.
//
// A reload (SIGHUP, POST /api/v1/reload, PUT /api/v1/routes) is validated whole, then swaps the
// snapshot atomically: open connections keep the snapshot they took, new ones get the new one.
// Listener addresses that the new config adds are bound before anything changes (a failure
// changes nothing); addresses it drops stop accepting; the others are not touched.
#include "hopgate/admin/control.hpp"
#include "hopgate/admin/sources.hpp"
#include "hopgate/config/config.hpp"
#include "hopgate/core/fd_reserve.hpp"
#include "hopgate/frontend/context.hpp"
#include "hopgate/frontend/listener.hpp"
#include "hopgate/frontend/session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <memory>
#include <optional>
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
  admin::ChangeResult reload_from_file(admin::ChangeSource source) override;
  admin::ChangeResult apply(const nlohmann::json& doc, admin::ChangeSource source,
                            std::optional<std::uint64_t> expected_generation = std::nullopt) override;
  nlohmann::json config_document() const override;
  std::string config_path() const override { return path_; }
  Clock::time_point started() const override { return started_; }
  bool ready() const override;
  nlohmann::json upstream_health(std::string_view name) const override;

  frontend::Shared& shared() { return shared_; }

  /// Re-applies what the command line and environment laid over the file (cli::apply_settings)
  /// to the file's document at each reload, so that a reload keeps flags and HOPGATE_* values.
  /// Returns the document to load, or nullopt with `errors` (paths name the flag or variable).
  using ReloadOverlay =
      std::function<std::optional<nlohmann::json>(nlohmann::json doc, std::vector<config::ConfigError>& errors)>;
  void set_reload_overlay(ReloadOverlay overlay) { overlay_ = std::move(overlay); }

private:
  using ListenerPtr = std::shared_ptr<frontend::Listener>;

  /// Every listen address of `cfg`, unbound, with the JSON path it came from in `paths`.
  static std::vector<ListenerPtr> wanted_listeners(const config::Config& cfg, std::vector<std::string>* paths = nullptr);
  std::vector<asio::io_context*> context_list() const;
  /// What serves the connections a listener accepts, by its kind: the one place a kind is wired.
  frontend::AcceptHandler handler_for(const frontend::Listener& l);
  admin::ChangeResult change(config::Config cfg, nlohmann::json doc, admin::ChangeSource source,
                             std::optional<std::uint64_t> expected_generation);
  void start_accepting(const ListenerPtr& l);
  awaitable<void> drain();
  awaitable<void> handle_signals();
  void install(config::Config cfg, nlohmann::json doc);

  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::unique_ptr<frontend::Worker>> workers_;
  std::vector<std::thread> threads_;
  frontend::Shared shared_;
  admin::Sources admin_sources_{shared_.routes, shared_.registry, shared_.stats, shared_.draining};
  mutable std::mutex listeners_mutex_; ///< guards listeners_
  std::vector<ListenerPtr> listeners_;
  /// Listeners a reload dropped, kept until their accept loops have ended (pruned at the next
  /// change) or the gateway goes (declared after contexts_, so destroyed before them).
  std::vector<ListenerPtr> retired_;
  FdReserve fd_reserve_; ///< released and restored by the accept loops
  std::unique_ptr<asio::signal_set> signals_;
  std::string path_;
  ReloadOverlay overlay_;
  std::mutex change_mutex_; ///< one config change at a time
  mutable std::mutex doc_mutex_;
  nlohmann::json doc_;
  std::uint64_t generation_ = 0; ///< under doc_mutex_
  Clock::time_point started_ = Clock::now();
  std::atomic<bool> bound_{false};
  std::atomic<bool> accepting_{false}; ///< run() started the accept loops
  std::atomic<bool> stopping_{false};
};

} // namespace hopgate
