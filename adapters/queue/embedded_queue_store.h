// The embedded, durable QueueStore on RocksDB (the default; docs/queues.md).
//
// One worker thread owns the database and the in-memory index. Calls enqueue tasks; the
// worker runs every pending task, writes their changes as ONE WriteBatch (synced when
// `sync`), then runs their callbacks — so concurrent pushes share one fsync (group
// commit). A pushed message becomes visible to pop only after its batch is durable.
#pragma once

#include <memory>
#include <string>

#include "adapters/queue/queue_store.h"

namespace ptp {

struct EmbeddedQueueOptions {
  std::string path;  // database directory, created when missing
  bool sync = true;  // fsync each batch before acknowledging
  QueueLimits limits;
  std::chrono::seconds released_memory{24 * 3600};  // how long a released session answers 608
  std::chrono::milliseconds sweep_interval{10000};  // idle sessions, dedup ids, tombstones
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
  std::vector<std::string> nodes_at_open() const override;

  class Impl;

 private:
  explicit EmbeddedQueueStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptp
