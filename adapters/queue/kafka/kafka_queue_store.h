// The QueueStore on Kafka (librdkafka), for when one machine is not enough
// (docs/queues-kafka.md). One data topic per node, "<prefix>.<node>" (the node id as
// kafka_node_component gives it: a digest for ids with '.' or ':'), with a queue mapped
// to one partition by a hash of (session, topic); a compacted "<prefix>.<node>.control"
// topic holds session and topic releases. Each replica of a node owns the partitions
// p with p % replica_count == replica_index, consumes them into an in-memory index and
// serves pops from it; committed offsets = lowest un-acknowledged offset per partition.
//
// Threads: one polls the producer (delivery reports complete pushes), one polls the
// consumer (indexes records, expires waits, commits offsets), one attaches node topics
// and sweeps. Callbacks run on those threads, outside the store's lock.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "adapters/queue/queue_store.h"

namespace ptp {

// Which replica takes a push of another node's message (queue_bookkeeping::counted_source
// not empty: a peer's push into the inbox) to a partition this replica does not own.
// kOwner: none but the owner; the others answer E0000000607 naming it, as for a pop, so
// the owner, which indexes the record, checks it against its limits and shares. kAny:
// every replica; the owner indexes it unchecked, so the limits and shares no longer bound
// what a peer stores (docs/queues-kafka.md "Replicas"). This node's own messages (its
// clients' pushes, dead letters, replies) are taken by every replica either way.
enum class KafkaPushes { kOwner, kAny };

struct KafkaQueueOptions {
  std::string bootstrap_servers;
  std::string topic_prefix = "ptp.queue";
  std::string group_id;   // consumer group for committed offsets; default "<prefix>.replicas"
  int replica_index = 0;  // this replica owns partitions p % replica_count == replica_index
  int replica_count = 1;
  KafkaPushes pushes = KafkaPushes::kOwner;
  bool create_topics = true;  // CreateTopics for missing node topics (not on the mock broker)
  int partitions = 12;        // of a created data topic
  int replication_factor = 3;
  QueueLimits limits;
  std::chrono::seconds released_memory{24 * 3600};  // how long a released session answers 608
  std::chrono::milliseconds commit_interval{200};   // offset commits, at most this often
  std::chrono::milliseconds attach_timeout{15000};  // topic metadata + catching up at first use
  std::chrono::milliseconds sweep_interval{10000};  // idle sessions, dedup ids
  // At attach, re-read up to this many records per partition below the committed offset
  // to remember their message ids (within limits.dedup_window): a push retried after a
  // restart is then still stored once. Broker-agnostic (no timestamp lookups).
  int64_t dedup_replay_records = 10000;
  // Extra librdkafka properties (e.g. linger.ms, fetch.wait.max.ms, security settings).
  std::map<std::string, std::string> producer_config;
  std::map<std::string, std::string> consumer_config;
};

class KafkaQueueStore final : public QueueStore {
 public:
  // Creates the Kafka clients; null with `error` set on a bad option. Node topics are
  // attached on first use of the node (operations on it wait until it has caught up).
  static std::unique_ptr<KafkaQueueStore> open(const KafkaQueueOptions& opts, Status& error);
  // Commits the offsets of acknowledged messages, flushes pending pushes, then closes.
  ~KafkaQueueStore() override;

  void push(const QueueKey& key, QueuedMessage msg, std::chrono::milliseconds wait,
            Done done) override;
  uint64_t pop(const QueueKey& key, std::chrono::milliseconds timeout, MessageDone done) override;
  void cancel_pop(uint64_t ticket) override;
  void ack(const QueueKey& key, uint64_t offset) override;
  void nack(const QueueKey& key, uint64_t offset) override;
  void peek(const QueueKey& key, MessageDone done) override;
  void release(const std::string& node, const std::string& session,
               std::optional<std::string> topic, Done done) override;
  // A topic in this replica's partitions (kafka_topic_served_by), once the node is attached.
  void served_topic(const std::string& node, const std::string& session, std::string base,
                    TopicDone done) override;
  QueueStats stats() const override;
  std::vector<std::string> nodes_at_open() const override;
  void queues_of(const std::string& node, KeysDone done) override;
  // Not available: the messages live in Kafka's partitions, spread over the replicas of
  // a node; these answer E0000000400 saying so (use Kafka's own tools).
  void list_queues(const QueueFilter& filter, ListDone done) override;
  void peek_messages(const QueueKey& key, size_t count, PeekDone done) override;
  void purge(const std::string& node, const std::string& session, std::optional<std::string> topic,
             PurgeDone done) override;
  // Queues and sessions kept in memory, empty ones included (what a push costs the index;
  // tests and diagnostics).
  size_t index_entries() const;

  class Impl;

 private:
  explicit KafkaQueueStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptp
