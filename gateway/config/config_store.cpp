#include "gateway/config/config_store.h"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <system_error>
#include <vector>

namespace ptp {

ConfigStore::ConfigStore(ConfigPtr initial) : base_(initial), snapshot_(std::move(initial)) {}

ConfigPtr ConfigStore::current() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

ConfigPtr ConfigStore::base() const {
  std::lock_guard lock(mu_);
  return base_;
}

void ConfigStore::publish(ConfigPtr base) {
  ConfigPtr effective = overlay_ && base ? overlay_(base) : base;
  if (!effective) effective = base;
  if (prepare_ && effective) prepare_(effective);
  std::lock_guard lock(mu_);
  base_ = std::move(base);
  snapshot_ = std::move(effective);
  ++generation_;
}

void ConfigStore::set_overlay(Overlay fn) {
  std::lock_guard reload_lock(reload_mu_);
  overlay_ = std::move(fn);
  publish(base());
}

void ConfigStore::set_prepare(Prepare fn) {
  std::lock_guard reload_lock(reload_mu_);
  prepare_ = std::move(fn);
  if (ConfigPtr now = current(); prepare_ && now) prepare_(now);
}

void ConfigStore::republish() {
  std::lock_guard reload_lock(reload_mu_);
  publish(base());
}

uint64_t ConfigStore::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

bool ConfigStore::reload(std::string& error) {
  std::lock_guard reload_lock(reload_mu_);
  ConfigPtr running = base();
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
  publish(std::move(next));
  return true;
}

namespace {

std::string tls_text(const std::optional<TlsServerConfig>& t) {
  if (!t) return "off";
  return "cert=" + t->cert_file + " key=" + t->key_file +
         (t->client_ca_file.empty() ? "" : " client_ca=" + t->client_ca_file);
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }
std::string bool_text(bool b) { return b ? "true" : "false"; }
std::string store_text(QueueBackend b) { return b == QueueBackend::kKafka ? "kafka" : "embedded"; }

// Compared only, never printed (properties may hold credentials).
std::string map_text(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += k + '\0' + v + '\0';
  return out;
}

std::string kafka_text(const QueueConfig& q) {
  return q.kafka_bootstrap + '\0' + q.kafka_topic_prefix + '\0' + q.kafka_group_id + '\0' +
         std::to_string(q.kafka_replica_index) + '/' + std::to_string(q.kafka_replica_count) +
         '\0' + bool_text(q.kafka_pushes_to_owner) + '\0' + std::to_string(q.kafka_partitions) +
         '\0' + std::to_string(q.kafka_replication_factor) + '\0' +
         bool_text(q.kafka_create_topics) + '\1' + map_text(q.kafka_properties) + '\1' +
         map_text(q.kafka_producer_properties) + '\1' + map_text(q.kafka_consumer_properties);
}

std::string attachment_text(const KafkaAttachmentConfig& k) {
  return k.bootstrap + '\0' + k.ingress_topic + '\0' + k.egress_topic + '\0' + k.group_id + '\1' +
         map_text(k.properties);
}

std::string connections_text(const ConnectionsConfig& c) {
  return "first_bytes_ms=" + std::to_string(c.first_bytes.count()) +
         " tls_handshake_ms=" + std::to_string(c.tls_handshake.count()) +
         " idle_ms=" + std::to_string(c.idle.count()) +
         " progress_ms=" + std::to_string(c.progress.count()) +
         " min_progress_bytes=" + std::to_string(c.min_progress_bytes) +
         " max_connections=" + std::to_string(c.max_connections);
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
  // The PTP port's TLS (without listen.tls) and the peers' client certificate.
  note("identity.dir", running.identity.dir.empty() ? "none" : quoted(running.identity.dir),
       next.identity.dir.empty() ? "none" : quoted(next.identity.dir));
  // The crypto profile: node keys, digests and evidence chains are set up for it at start.
  note("crypto", running.crypto.gm ? "gm" : "international",
       next.crypto.gm ? "gm" : "international");
  note("admin.address", running.admin.host, next.admin.host);
  note("admin.port", std::to_string(running.admin.port), std::to_string(next.admin.port));
  note("admin.tls", tls_text(running.admin_access.tls), tls_text(next.admin_access.tls));
  note("admin.body_timeout_ms", std::to_string(running.admin_access.body_timeout.count()),
       std::to_string(next.admin_access.body_timeout.count()));
  note("io_threads", std::to_string(running.io_threads), std::to_string(next.io_threads));
  note("connections", connections_text(running.connections), connections_text(next.connections));
  note("router_server", running.router_server.enabled ? "on" : "off",
       next.router_server.enabled ? "on" : "off");
  note("router_server.workers", std::to_string(running.router_server.workers),
       std::to_string(next.router_server.workers));
  // The evidence log is opened once at start, in its directory.
  note("evidence", running.evidence.enabled ? "on" : "off", next.evidence.enabled ? "on" : "off");
  note("evidence.dir", quoted(running.evidence.dir), quoted(next.evidence.dir));
  // Opened once at start: the queue stores with their limits, the Kafka attachment's clients.
  const QueueConfig &rq = running.queue, &nq = next.queue;
  note("queue.enabled", bool_text(rq.enabled), bool_text(nq.enabled));
  note("queue.store", store_text(rq.backend), store_text(nq.backend));
  note("queue.path", quoted(rq.path), quoted(nq.path));
  note("queue.sync", bool_text(rq.sync), bool_text(nq.sync));
  if (kafka_text(rq) != kafka_text(nq)) changes.push_back("queue.kafka");
  const QueueLimits &rl = rq.limits, &nl = nq.limits;
  auto num = [&](const char* key, uint64_t from, uint64_t to) {
    note(key, std::to_string(from), std::to_string(to));
  };
  num("queue.min_free_disk_bytes", rq.min_free_disk_bytes, nq.min_free_disk_bytes);
  num("queue.limits.max_message_bytes", rl.max_message_bytes, nl.max_message_bytes);
  num("queue.limits.max_session_bytes", rl.max_session_bytes, nl.max_session_bytes);
  num("queue.limits.max_total_bytes", rl.max_total_bytes, nl.max_total_bytes);
  num("queue.limits.max_source_bytes", rl.max_source_bytes, nl.max_source_bytes);
  num("queue.limits.max_target_bytes", rl.max_target_bytes, nl.max_target_bytes);
  num("queue.limits.max_session_messages", rl.max_session_messages, nl.max_session_messages);
  num("queue.limits.session_idle_expiry_s", rl.session_idle_expiry.count(),
      nl.session_idle_expiry.count());
  num("queue.limits.dedup_window_s", rl.dedup_window.count(), nl.dedup_window.count());
  num("queue.limits.dedup_max_ids", rl.dedup_max_ids, nl.dedup_max_ids);
  if (attachment_text(running.kafka_attachment) != attachment_text(next.kafka_attachment))
    changes.push_back("kafka_attachment");
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

  std::pair<bool, std::string> reload(const char* reason) {
    std::string error;
    bool ok = store.reload(error);
    std::string msg = ok ? "configuration reloaded from " + store.current()->source_path + " (" +
                               reason + ", generation " + std::to_string(store.generation()) + ")"
                         : error;
    if (on_reload) on_reload(ok, msg);
    return {ok, std::move(msg)};
  }
};

ConfigWatcher::ConfigWatcher(boost::asio::any_io_executor ex, ConfigStore& store,
                             Callback on_reload)
    : state_(std::make_shared<State>(std::move(ex), store, std::move(on_reload))) {
  state_->start();
}

ConfigWatcher::~ConfigWatcher() { stop(); }

void ConfigWatcher::reload_now(const char* reason, Callback done) {
  boost::asio::post(state_->timer.get_executor(), [s = state_, reason, done = std::move(done)] {
    std::lock_guard lock(s->mu);
    if (s->stopped) return done(false, "the gateway is stopping");
    s->last = stamp(s->store.current()->source_path);
    auto [ok, msg] = s->reload(reason);
    done(ok, msg);
  });
}

void ConfigWatcher::stop() { state_->stop(); }

}  // namespace ptp
