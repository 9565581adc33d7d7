#include "gateway/queue/queue_backend.h"

#include <algorithm>
#include <filesystem>

#include "adapters/queue/embedded/embedded_queue_store.h"
#include "adapters/queue/kafka/kafka_queue_store.h"
#include "adapters/queue/kafka/kafka_record.h"
#include "gateway/observability/metrics.h"

namespace ptp {
namespace {

// The outbox's messages leave by delivery, or as dead letters after outbox_ttl_s (its
// sessions are touched at every attempt, at least every retry_max): idle expiry must not
// drop them first, silently.
QueueLimits limits_of(const QueueConfig& q, const std::string& name) {
  QueueLimits l = q.limits;
  // The outbox holds this node's own messages only: no share per source, but one per
  // target node (a target that never takes its messages holds at most its share); the
  // inbox's queues are all this node's: no share per target.
  if (name == "outbox")
    l.max_source_bytes = 0;
  else
    l.max_target_bytes = 0;
  if (name == "outbox")
    l.session_idle_expiry = std::max(
        l.session_idle_expiry, q.outbox_ttl + std::chrono::ceil<std::chrono::seconds>(q.retry_max) +
                                   std::chrono::seconds(3600));
  return l;
}

}  // namespace

std::unique_ptr<QueueStore> open_queue_store(const QueueConfig& q, const std::string& self_node,
                                             const std::string& data_dir, const std::string& name,
                                             Status& error, Metrics* metrics) {
  if (q.backend == QueueBackend::kKafka) {
    KafkaQueueOptions o;
    o.bootstrap_servers = q.kafka_bootstrap;
    std::string family = name;
    o.replica_index = q.kafka_replica_index;
    o.replica_count = q.kafka_replica_count;
    if (name == "outbox") {
      // A replica's outbox lanes know only the sessions it pushed: each replica has an
      // outbox of its own and forwards all of it (a shared one left the pushes whose
      // partition another replica owns unforwarded). Replica 0 keeps the single outbox's
      // topics, so it forwards what an earlier version left in any of their partitions.
      // Not "outbox.<self>.replica<i>": replica 0 would take those topics for targets'.
      if (o.replica_index > 0) family += "-replica" + std::to_string(o.replica_index);
      family += "." + kafka_node_component(self_node);  // no '.' or ':' of the id: legal, apart
      o.replica_index = 0;
      o.replica_count = 1;
    }
    o.topic_prefix = q.kafka_topic_prefix + "." + family;
    o.group_id = (q.kafka_group_id.empty() ? q.kafka_topic_prefix : q.kafka_group_id) + "." +
                 family + ".replicas";
    // The inbox takes peers' pushes; the outbox only this node's own messages, which every
    // replica takes (its messages, counted against their target's share, would otherwise
    // count as another node's: key.node is the target).
    o.pushes =
        name != "outbox" && q.kafka_pushes_to_owner ? KafkaPushes::kOwner : KafkaPushes::kAny;
    o.partitions = q.kafka_partitions;
    o.replication_factor = q.kafka_replication_factor;
    o.create_topics = q.kafka_create_topics;
    o.limits = limits_of(q, name);
    o.producer_config = q.kafka_properties;
    o.consumer_config = q.kafka_properties;
    for (const auto& [k, v] : q.kafka_producer_properties) o.producer_config[k] = v;
    for (const auto& [k, v] : q.kafka_consumer_properties) o.consumer_config[k] = v;
    return KafkaQueueStore::open(o, error);
  }
  EmbeddedQueueOptions o;
  o.path = (std::filesystem::path(data_dir) / name).string();
  o.sync = q.sync;
  o.min_free_bytes = q.min_free_disk_bytes;
  o.limits = limits_of(q, name);
  // Idle sessions are found by a sweep: at least twice per idle expiry.
  o.sweep_interval = std::min(
      o.sweep_interval,
      std::chrono::duration_cast<std::chrono::milliseconds>(o.limits.session_idle_expiry) / 2);
  if (metrics)
    o.on_write = [metrics, name](std::chrono::duration<double> took) {
      metrics->queue_store_write(name, took.count());
    };
  auto store = EmbeddedQueueStore::open(o, error);
  return store;
}

std::string queue_stats_json(const std::vector<std::pair<std::string, QueueStats>>& stores) {
  std::string out = "{";
  for (const auto& [name, st] : stores) {
    if (out.size() > 1) out += ",";
    out += "\"" + name + "\":{\"queues\":" + std::to_string(st.queues) +
           ",\"messages\":" + std::to_string(st.messages) +
           ",\"bytes\":" + std::to_string(st.bytes) + "}";
  }
  return out + "}";
}

}  // namespace ptp
