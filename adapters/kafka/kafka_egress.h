// The egress half of the Kafka attachment (docs/kafka-attachment.md): messages for a
// Kafka-attached local node are produced to its egress topic, PTP header fields and
// metadata as record headers (canonical x-ptp-* names), payload as value, record key the
// session id (one session's messages stay in one partition, in order). A message counts
// as delivered when the broker acknowledged it (acks=all, idempotent producer).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "adapters/queue/kafka/kafka_client.h"
#include "adapters/queue/message_sink.h"

namespace ptp {

struct KafkaEgressOptions {
  std::string bootstrap_servers;
  std::string topic;
  std::map<std::string, std::string> properties;  // librdkafka, as is
};

class KafkaEgress final : public MessageSink {
 public:
  // Null with `error` set on a bad option.
  static std::unique_ptr<KafkaEgress> open(const KafkaEgressOptions& opts, Status& error);
  // Flushes what is in flight (up to 10 s); what is left is answered with an error.
  ~KafkaEgress() override;

  void deliver(const QueueKey& key, QueuedMessage msg, QueueStore::Done done) override;

 private:
  KafkaEgress() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*);

  std::string topic_;
  KafkaHandle producer_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace ptp
