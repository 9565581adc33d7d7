#include "gateway/queue_backend.h"

#include <filesystem>

#include "adapters/queue/embedded_queue_store.h"
#include "adapters/queue/kafka_queue_store.h"

namespace ptp {

std::unique_ptr<QueueStore> open_queue_store(const QueueConfig& q, const std::string& self_node,
                                             const std::string& data_dir, const std::string& name,
                                             Status& error) {
  if (q.backend == QueueBackend::kKafka) {
    KafkaQueueOptions o;
    o.bootstrap_servers = q.kafka_bootstrap;
    const std::string family = name == "outbox" ? name + "." + self_node : name;
    o.topic_prefix = q.kafka_topic_prefix + "." + family;
    o.group_id = (q.kafka_group_id.empty() ? q.kafka_topic_prefix : q.kafka_group_id) + "." +
                 family + ".replicas";
    o.replica_index = q.kafka_replica_index;
    o.replica_count = q.kafka_replica_count;
    o.partitions = q.kafka_partitions;
    o.replication_factor = q.kafka_replication_factor;
    o.create_topics = q.kafka_create_topics;
    o.limits = q.limits;
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
  o.limits = q.limits;
  auto store = EmbeddedQueueStore::open(o, error);
  return store;
}

}  // namespace ptp
