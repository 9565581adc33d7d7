// How the Kafka queue store lays queues onto Kafka (docs/queues-kafka.md): topic names,
// the queue -> partition mapping, and a queued message as a Kafka record (PTP header
// fields and metadata as record headers, payload as value). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/queue/queue_store.h"

namespace ptp {

// A node id as one component of a Kafka topic name. Node ids may hold [A-Za-z0-9._:-]
// (is_valid_id), Kafka names only [a-zA-Z0-9._-], and '.' separates a name's components:
// an id of [A-Za-z0-9_-] only that does not start with kKafkaDigestMarker is itself (the
// names of earlier versions); any other id is the marker and the first 16 hex digits of
// its SHA-256 ("x--" + 16 hex). So no component holds '.' or a character Kafka refuses,
// and two ids share one only by a 64-bit SHA-256 collision. Not reversible: the store
// reads a digest-named node back from its records (ptp-queue-node).
inline constexpr std::string_view kKafkaDigestMarker = "x--";
std::string kafka_node_component(std::string_view node);

// "<prefix>.<kafka_node_component(node)>". Characters of the prefix Kafka does not allow
// become '_', and a changed (or too long) name gets a hash suffix (it then no longer
// starts with "<prefix>.").
std::string kafka_data_topic(std::string_view prefix, std::string_view node);
// The compacted topic holding release records of the node's sessions.
std::string kafka_control_topic(std::string_view prefix, std::string_view node);

// The partition of a queue: a stable hash (FNV-1a) of session and topic, so every replica
// maps a queue to the same partition and a queue's messages keep their order.
int32_t kafka_partition_of(const QueueKey& key, int32_t partitions);

// `base`, or `base` + "." + n for the smallest n, whose queue (session, topic) lies in a
// partition p (of `partitions`) with p % replica_count == replica_index: a topic that
// replica serves. nullopt when it owns none of the partitions; otherwise about
// partitions / owned names are tried per hit, and the search gives up (nullopt) after 64
// times that (a chance of e^-64).
std::optional<std::string> kafka_topic_served_by(const std::string& session,
                                                 const std::string& base, int32_t partitions,
                                                 int replica_count, int replica_index);

// Record headers; the value is env.body and the record key the message id.
inline constexpr std::string_view kKafkaNodeHeader = "ptp-queue-node";
inline constexpr std::string_view kKafkaSessionHeader = "ptp-queue-session";
inline constexpr std::string_view kKafkaTopicHeader = "ptp-queue-topic";
inline constexpr std::string_view kKafkaIdHeader = "ptp-message-id";
inline constexpr std::string_view kKafkaMetaPrefix = "ptp-meta-";  // + metadata name
inline constexpr std::string_view kKafkaContentTypeHeader = "content-type";

struct KafkaRecordHeader {
  std::string_view name;
  std::string_view value;
};

// Calls add(name, value) for every header of the record of (key, msg).
template <class Add>
void for_each_kafka_header(const QueueKey& key, const QueuedMessage& msg, Add&& add);

// Rebuilds the queue key and message from a record's headers and value. kCodecError when
// the queue headers or the message id are missing.
class KafkaRecordReader {
 public:
  void header(std::string_view name, std::string_view value);
  Status finish(std::string_view value, QueueKey& key, QueuedMessage& msg);

 private:
  QueueKey key_;
  QueuedMessage msg_;
  bool has_session_ = false, has_topic_ = false;
};

}  // namespace ptp

#include "adapters/queue/kafka/kafka_record_inl.h"
