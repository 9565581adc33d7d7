// The ingress half of the Kafka attachment (docs/kafka-attachment.md): a platform that
// speaks topics produces PTP messages to the ingress topic (PTP header fields as record
// headers, payload as value); the gateway consumes them in order and hands each to
// `submit` — routed like a container's push. A record's offset is stored for commit only
// after submit accepted it durably; transient refusals (700, 500, 601, 607) are retried
// with backoff, permanent ones (bad header, unknown target, …) are logged and skipped.
// A record without a message id gets "kafka-<topic>-<partition>-<offset>", so a record
// consumed again after a crash is stored once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/queue/kafka/kafka_client.h"
#include "adapters/queue/queue_store.h"

namespace ptp {

struct KafkaIngressOptions {
  std::string bootstrap_servers;
  std::string topic;
  std::string group_id;
  std::map<std::string, std::string> properties;  // librdkafka, as is
  std::chrono::milliseconds retry_min{200};
  std::chrono::milliseconds retry_max{5000};
};

class KafkaIngress {
 public:
  using Submit = std::function<void(Envelope env, QueueStore::Done done)>;
  // what: "skipped" (permanent) or "retrying" (transient), with the record's envelope.
  using Report = std::function<void(std::string_view what, const Envelope& env, const Status&)>;

  static std::unique_ptr<KafkaIngress> open(const KafkaIngressOptions& opts, Submit submit,
                                            Report report, Status& error);
  // Stops consuming; the offsets of accepted records are committed.
  ~KafkaIngress();
  KafkaIngress(const KafkaIngress&) = delete;
  KafkaIngress& operator=(const KafkaIngress&) = delete;

 private:
  KafkaIngress() = default;
  void run();
  void handle(rd_kafka_message_t* m);
  bool sleep_for(std::chrono::milliseconds d);  // false when stopping

  KafkaIngressOptions opts_;
  Submit submit_;
  Report report_;
  KafkaHandle consumer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The envelope of an ingress record: header fields by their names and aliases
// (decode_headers), payload from the value; the message id filled in when missing.
Status kafka_ingress_envelope(const rd_kafka_message_t* m, Envelope& env);

}  // namespace ptp
