// open_queue_store on Kafka with node ids Kafka topic names cannot hold as they are (':' is
// not allowed, '.' separates the name's parts): on librdkafka's mock cluster, a gateway
// whose own and target ids hold both keeps and reads back its messages, and two gateways
// whose (self, target) pairs once spelled the same topic keep theirs apart
// (docs/queues-kafka.md "Topics").
#include <doctest/doctest.h>

#include "gateway/config/config.h"
#include "gateway/queue/queue_backend.h"
#include "tests/unit/queue_test_support.h"

using namespace ptp;
using namespace ptp::testing;

namespace {

struct KafkaQueues {
  KafkaBackend kafka;  // a fresh mock cluster (or PTP_TEST_KAFKA_BOOTSTRAP), a unique prefix
  QueueConfig q;

  KafkaQueues() {
    q.backend = QueueBackend::kKafka;
    q.kafka_bootstrap = kafka.bootstrap;
    q.kafka_topic_prefix = kafka.prefix;
    q.kafka_create_topics = !kafka.mock;  // the mock broker auto-creates topics
    q.kafka_partitions = 4;
    q.kafka_replication_factor = 1;
    q.kafka_producer_properties = {{"linger.ms", "1"}};
    q.kafka_consumer_properties = {{"fetch.wait.max.ms", "10"}, {"fetch.error.backoff.ms", "50"}};
  }

  std::unique_ptr<QueueStore> open(const std::string& self, const std::string& name) const {
    Status err;
    auto s = open_queue_store(q, self, "", name, err);
    REQUIRE_MESSAGE(s, err.to_string());
    return s;
  }
};

}  // namespace

TEST_CASE("kafka queues: node ids with ':' and '.' push, pop and resume after a restart") {
  KafkaQueues k;
  const QueueKey to_peer{"peer:2.west", "s1", "t"};
  {
    auto outbox = k.open("gw:1.east", "outbox");
    CHECK(outbox->nodes_at_open().empty());
    push_many(*outbox, to_peer, 2, "out");
    auto [st, m] = pop_sync(*outbox, to_peer, 3s);
    REQUIRE(st.ok());
    REQUIRE(m);
    CHECK(m->message_id == "out0");
    outbox->ack(to_peer, m->offset);

    auto inbox = k.open("gw:1.east", "inbox");
    const QueueKey own{"gw:1.east", "s1", "t"};
    push_many(*inbox, own, 1, "in");
    CHECK(drain(*inbox, own) == std::vector<std::string>{"in0"});
  }
  // After a restart the outbox finds the target of what is left from the topics, although
  // the topic's name no longer spells the target's id.
  auto outbox = k.open("gw:1.east", "outbox");
  CHECK(outbox->nodes_at_open() == std::vector<std::string>{"peer:2.west"});
  CHECK(drain(*outbox, to_peer) == std::vector<std::string>{"out1"});
}

TEST_CASE("kafka queues: outboxes of self a to b.c and self a.b to c are different topics") {
  KafkaQueues k;
  auto outbox_a = k.open("a", "outbox");
  auto outbox_ab = k.open("a.b", "outbox");
  const QueueKey a_to_bc{"b.c", "s1", "t"}, ab_to_c{"c", "s1", "t"};
  push_many(*outbox_a, a_to_bc, 1, "from-a-");
  push_many(*outbox_ab, ab_to_c, 1, "from-ab-");
  // Each gateway forwards its own message, and only its own.
  CHECK(drain(*outbox_ab, ab_to_c) == std::vector<std::string>{"from-ab-0"});
  CHECK(drain(*outbox_a, a_to_bc) == std::vector<std::string>{"from-a-0"});
}
