// The embedded, durable QueueStore on RocksDB (the default; docs/queues.md).
//
// The in-memory index (queues, leases, waiters, limits) lives under one mutex and every
// call updates it at once on the caller's thread: a pop of a ready message is answered
// inline, from an in-memory copy of the message. Changes go into a pending WriteBatch;
// one worker thread writes it (synced when `sync`) without holding the mutex, while
// callers fill the next batch — so all pushes that arrive during one fsync share the next
// (group commit). A pushed message is acknowledged, and becomes visible to pop, only
// after its batch is durable.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "adapters/queue/queue_store.h"

namespace ptp {

struct EmbeddedQueueOptions {
  std::string path;  // database directory, created when missing
  bool sync = true;  // fsync each batch before acknowledging
  // Acks (deletes) are written unsynced, at most this long after the ack, together with
  // whatever else came meanwhile.
  std::chrono::microseconds ack_delay{1000};
  uint64_t cache_bytes = 64ull << 20;  // payload bytes kept in memory for pops (rest: read)
  QueueLimits limits;
  std::chrono::seconds released_memory{24 * 3600};  // how long a released session answers 608
  std::chrono::milliseconds sweep_interval{10000};  // idle sessions, dedup ids, tombstones
  // Pushes are refused (E0000000602, HTTP 503) while the disk holds less than this free,
  // so RocksDB's own writes (log, flushes, compactions) never meet a full disk.
  uint64_t min_free_bytes = 64ull << 20;
  // Called on the store's worker thread after each batch written, with the time the write
  // (and its sync) took, e.g. for a latency histogram. Must be quick and thread-safe.
  std::function<void(std::chrono::duration<double>)> on_write;
};

class EmbeddedQueueStore final : public QueueStore {
 public:
  // Opens (or creates) the store; null with `error` set when it cannot (path not
  // writable, already opened by another process, corrupt data).
  static std::unique_ptr<EmbeddedQueueStore> open(const EmbeddedQueueOptions& opts, Status& error);
  ~EmbeddedQueueStore() override;

  void push(const QueueKey& key, QueuedMessage msg, std::chrono::milliseconds wait,
            Done done) override;
  uint64_t pop(const QueueKey& key, std::chrono::milliseconds timeout, MessageDone done) override;
  void cancel_pop(uint64_t ticket) override;
  void ack(const QueueKey& key, uint64_t offset) override;
  void nack(const QueueKey& key, uint64_t offset) override;
  void peek(const QueueKey& key, MessageDone done) override;
  void release(const std::string& node, const std::string& session,
               std::optional<std::string> topic, Done done) override;
  QueueStats stats() const override;
  std::vector<NodeBacklog> backlog() const override;
  Status health() const override;
  std::vector<std::string> nodes_at_open() const override;
  void queues_of(const std::string& node, KeysDone done) override;
  void list_queues(const QueueFilter& filter, ListDone done) override;
  // Messages beyond the memory cache are read from disk on the caller's thread.
  void peek_messages(const QueueKey& key, size_t count, PeekDone done) override;
  void purge(const std::string& node, const std::string& session, std::optional<std::string> topic,
             PurgeDone done) override;
  // A RocksDB checkpoint (hard links where `dir` is on the same file system), after the
  // pending batch (acks included) is written; read it with read_store_contents
  // (embedded_queue_backup.h).
  Status backup(const std::string& dir) override;

  class Impl;

 private:
  explicit EmbeddedQueueStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptp
