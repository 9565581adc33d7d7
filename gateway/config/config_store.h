// Holds the current config snapshot and swaps it on reload (docs/architecture.md, "Config is a
// value"): a request keeps the snapshot it started with; an invalid file is rejected and
// the old snapshot stays. ConfigWatcher triggers reloads on file change and SIGHUP.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "gateway/config/config.h"

namespace ptp {

class ConfigStore {
 public:
  explicit ConfigStore(ConfigPtr initial);

  // The effective snapshot: the file's, with the overlay applied.
  ConfigPtr current() const;
  // The snapshot as read from the file, without the overlay.
  ConfigPtr base() const;
  // Re-reads current()->source_path, validates it and swaps it in. On failure keeps the
  // current snapshot and sets `error`. Thread-safe.
  bool reload(std::string& error);
  // 1 for the initial snapshot, +1 for every successful reload or republish.
  uint64_t generation() const;

  // A function applied to every snapshot the store publishes: the file's snapshot in, the
  // effective one out (the dynamic peer table appends its peers, gateway/peering). It
  // runs under the store's reload lock, on the thread that reloads or republishes, and
  // must not call back into the store. Setting it republishes at once.
  using Overlay = std::function<ConfigPtr(const ConfigPtr& base)>;
  void set_overlay(Overlay fn);
  // Applies the overlay again to the file's snapshot and publishes the result (what the
  // overlay reads has changed). Thread-safe.
  void republish();

  // Called with every snapshot the store is about to publish (the effective one, after
  // the overlay), before any reader can see it, under the reload lock, on the thread that
  // publishes: the health checker carries the peers' address choices over into it
  // (gateway/upstream/peer_health). Setting it calls it at once with the current snapshot.
  // It must not call back into the store.
  using Prepare = std::function<void(const ConfigPtr& next)>;
  void set_prepare(Prepare fn);

 private:
  void publish(ConfigPtr base);  // reload_mu_ held

  mutable std::mutex mu_;  // guards snapshot_, base_ and generation_
  std::mutex reload_mu_;   // serializes reload(), republish() and set_overlay()
  ConfigPtr base_;
  ConfigPtr snapshot_;
  Overlay overlay_;  // guarded by reload_mu_
  Prepare prepare_;  // guarded by reload_mu_
  uint64_t generation_ = 1;
};

// Empty when `next` may replace `running` without a restart; otherwise a message naming
// the settings that only take effect on restart (listen, admin, tls, io_threads, the
// queue stores and their limits, the Kafka attachment).
std::string restart_required(const Config& running, const Config& next);

// Polls the config file's mtime and size every cfg.reload_poll and reloads on change;
// also reloads on SIGHUP. `on_reload(ok, message)` reports every attempt. Handlers run on
// `ex`; after stop() (or destruction) returns, the callback is never called again.
class ConfigWatcher {
 public:
  using Callback = std::function<void(bool ok, const std::string& msg)>;

  ConfigWatcher(boost::asio::any_io_executor ex, ConfigStore& store, Callback on_reload);
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  void stop();

  // Reloads now, as SIGHUP does (on_reload is called too), then calls done(ok, message) on
  // the watcher's executor; `reason` (a literal) goes into the message. From any thread.
  void reload_now(const char* reason, Callback done);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace ptp
