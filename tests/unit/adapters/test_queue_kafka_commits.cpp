// The Kafka store's offset commits under broker errors (docs/queues-kafka.md "Offsets"):
// what the consumer group holds is the newest position the store sent, never an older one.
#include "adapters/queue/kafka/kafka_client.h"
#include "adapters/queue/kafka/kafka_record.h"
#include "tests/unit/queue_test_support.h"

namespace ptp::testing {
namespace {

// The offset the store's group has committed for the queue's partition (-1: none), read
// with a handle of our own, as a restarted store would.
int64_t committed_offset(const KafkaBackend& kc, const QueueKey& k) {
  KafkaConf conf(rd_kafka_conf_new());
  REQUIRE(kafka_set(conf.get(), {{"bootstrap.servers", kc.bootstrap},
                                 {"group.id", kc.prefix + ".replicas"},
                                 {"log_level", "3"}})
              .empty());
  std::string err;
  KafkaHandle c = kafka_new(RD_KAFKA_CONSUMER, std::move(conf), err);
  REQUIRE_MESSAGE(c, err);
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), kafka_data_topic(kc.prefix, k.node).c_str(),
                                    kafka_partition_of(k, kc.options().partitions));
  REQUIRE(rd_kafka_committed(c.get(), list.get(), 5000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  const int64_t off = list->elems[0].offset;
  rd_kafka_consumer_close(c.get());
  return off;
}

}  // namespace

TEST_CASE("kafka store: a commit librdkafka retries late does not replace a newer one") {
  KafkaBackend kc;
  if (!kc.mock) return;  // needs the mock cluster's error injection
  KafkaQueueOptions o = kc.options();
  o.consumer_config["retry.backoff.ms"] = "1000";  // a failed commit is sent again after 1 s
  auto s = KafkaBackend::open_with(o);
  QueueKey k{"B", "s1", "t"};
  REQUIRE(push_sync(*s, k, "warmup", "x").ok());
  push_many(*s, k, 19);
  std::vector<uint64_t> offsets;
  for (int i = 0; i < 20; ++i) {
    auto [st, m] = pop_sync(*s, k, 2s);
    REQUIRE(m);
    offsets.push_back(m->offset);
  }
  std::this_thread::sleep_for(300ms);  // the consumer has read them all; commits settled
  // The commit of the first ten acks fails once and librdkafka retries it 1 s later; the
  // commit of the other ten is due meanwhile.
  kc.mock->push_request_errors(KafkaApi::kOffsetCommit, {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
  for (int i = 0; i < 10; ++i) s->ack(k, offsets[i]);
  std::this_thread::sleep_for(300ms);
  for (int i = 10; i < 20; ++i) s->ack(k, offsets[i]);
  // Every message is acked: the group ends at offset 20 (a restart delivers nothing), not
  // at the retried older commit's 10 (ten acked messages delivered again).
  int64_t off = -1;
  for (int i = 0; i < 40 && off != 20; ++i) {
    std::this_thread::sleep_for(100ms);
    off = committed_offset(kc, k);
  }
  CHECK(off == 20);
  // And it stays there: nothing older lands later.
  std::this_thread::sleep_for(1500ms);
  CHECK(committed_offset(kc, k) == 20);
}

}  // namespace ptp::testing
