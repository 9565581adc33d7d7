#include "gateway/config_store.h"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <system_error>
#include <vector>

namespace ptp {

ConfigStore::ConfigStore(ConfigPtr initial) : snapshot_(std::move(initial)) {}

ConfigPtr ConfigStore::current() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

uint64_t ConfigStore::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

bool ConfigStore::reload(std::string& error) {
  std::lock_guard reload_lock(reload_mu_);
  ConfigPtr running = current();
  if (!running) {
    error = "no configuration loaded";
    return false;
  }
  ConfigPtr next = load_config(running->source_path, error);
  if (!next) return false;
  if (std::string why = restart_required(*running, *next); !why.empty()) {
    error = running->source_path + ": " + why;
    return false;
  }
  std::lock_guard lock(mu_);
  snapshot_ = std::move(next);
  ++generation_;
  return true;
}

namespace {

std::string tls_text(const std::optional<TlsServerConfig>& t) {
  if (!t) return "off";
  return "cert=" + t->cert_file + " key=" + t->key_file +
         (t->client_ca_file.empty() ? "" : " client_ca=" + t->client_ca_file);
}

}  // namespace

std::string restart_required(const Config& running, const Config& next) {
  std::vector<std::string> changes;
  auto note = [&](const char* key, const std::string& from, const std::string& to) {
    if (from != to) changes.push_back(std::string(key) + " " + from + " -> " + to);
  };
  note("listen.address", running.listen.host, next.listen.host);
  note("listen.port", std::to_string(running.listen.port), std::to_string(next.listen.port));
  note("listen.tls", tls_text(running.tls), tls_text(next.tls));
  note("admin.address", running.admin.host, next.admin.host);
  note("admin.port", std::to_string(running.admin.port), std::to_string(next.admin.port));
  note("io_threads", std::to_string(running.io_threads), std::to_string(next.io_threads));
  note("router_server", running.router_server.enabled ? "on" : "off",
       next.router_server.enabled ? "on" : "off");
  note("router_server.workers", std::to_string(running.router_server.workers),
       std::to_string(next.router_server.workers));
  // The HTTP/2 listener's body budgets are set up at start (docs/security.md).
  note("limits.buffered_body_bytes_per_connection",
       std::to_string(running.limits.buffered_body_bytes_per_connection),
       std::to_string(next.limits.buffered_body_bytes_per_connection));
  note("limits.buffered_body_bytes_total", std::to_string(running.limits.buffered_body_bytes_total),
       std::to_string(next.limits.buffered_body_bytes_total));
  if (changes.empty()) return {};
  std::string msg = "reload rejected, a restart is needed to change ";
  for (size_t i = 0; i < changes.size(); ++i) msg += (i ? "; " : "") + changes[i];
  return msg + " (the running configuration is kept)";
}

namespace {

// What the poller compares between ticks.
struct FileStamp {
  bool exists = false;
  std::filesystem::file_time_type mtime{};
  std::uintmax_t size = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp(const std::string& path) {
  FileStamp s;
  std::error_code ec;
  s.mtime = std::filesystem::last_write_time(path, ec);
  if (ec) return {};
  s.size = std::filesystem::file_size(path, ec);
  if (ec) return {};
  s.exists = true;
  return s;
}

}  // namespace

// Shared with the pending handlers so they never touch a destroyed watcher. `mu` is held
// while a handler runs and by stop(), so once stop() returns no callback is in flight or
// will start. Recursive: the callback may call stop() (or destroy the watcher).
struct ConfigWatcher::State : std::enable_shared_from_this<State> {
  State(boost::asio::any_io_executor ex, ConfigStore& s, Callback cb)
      : timer(ex), signals(ex), store(s), on_reload(std::move(cb)) {}

  std::recursive_mutex mu;
  bool stopped = false;
  boost::asio::steady_timer timer;
  boost::asio::signal_set signals;
  ConfigStore& store;
  Callback on_reload;
  FileStamp last;

  void start() {
    std::lock_guard lock(mu);
    last = stamp(store.current()->source_path);
    signals.add(SIGHUP);
    arm_timer();
    arm_signal();
  }

  void stop() {
    std::lock_guard lock(mu);
    if (stopped) return;
    stopped = true;
    timer.cancel();
    boost::system::error_code ignored;
    signals.cancel(ignored);
  }

  void arm_timer() {
    timer.expires_after(store.current()->reload_poll);
    timer.async_wait(
        [self = shared_from_this()](const boost::system::error_code& ec) { self->on_timer(ec); });
  }

  void arm_signal() {
    signals.async_wait([self = shared_from_this()](const boost::system::error_code& ec, int) {
      self->on_signal(ec);
    });
  }

  void on_timer(const boost::system::error_code& ec) {
    std::lock_guard lock(mu);
    if (stopped || ec) return;
    FileStamp now = stamp(store.current()->source_path);
    if (now != last) {
      last = now;  // a rejected version is not retried until the file changes again
      reload("file changed");
    }
    if (!stopped) arm_timer();
  }

  void on_signal(const boost::system::error_code& ec) {
    std::lock_guard lock(mu);
    if (stopped || ec) return;
    last = stamp(store.current()->source_path);
    reload("SIGHUP");
    if (!stopped) arm_signal();
  }

  void reload(const char* reason) {
    std::string error;
    bool ok = store.reload(error);
    std::string msg = ok ? "configuration reloaded from " + store.current()->source_path + " (" +
                               reason + ", generation " + std::to_string(store.generation()) + ")"
                         : error;
    if (on_reload) on_reload(ok, msg);
  }
};

ConfigWatcher::ConfigWatcher(boost::asio::any_io_executor ex, ConfigStore& store,
                             Callback on_reload)
    : state_(std::make_shared<State>(std::move(ex), store, std::move(on_reload))) {
  state_->start();
}

ConfigWatcher::~ConfigWatcher() { stop(); }

void ConfigWatcher::stop() { state_->stop(); }

}  // namespace ptp
