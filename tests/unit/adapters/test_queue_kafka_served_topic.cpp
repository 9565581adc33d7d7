// A topic whose queue this replica serves (QueueStore::served_topic; docs/queues-kafka.md
// "Replicas"): an invoke over queues waits for its reply on such a topic, so with two
// replicas of a Kafka inbox its pop is never answered E0000000607 by the replica it waits at.
#include <future>

#include "adapters/queue/kafka/kafka_record.h"
#include "tests/unit/queue_test_support.h"

namespace ptp::testing {
namespace {

using TopicResult = std::pair<Status, std::string>;

TopicResult served_topic_sync(QueueStore& s, const std::string& node, const std::string& session,
                              const std::string& base) {
  std::promise<TopicResult> p;
  s.served_topic(node, session, base, [&](Status st, std::string topic) {
    p.set_value({st, std::move(topic)});
  });
  return p.get_future().get();
}

}  // namespace

TEST_CASE("kafka_topic_served_by: a topic in the replica's partitions, the base when it fits") {
  for (int index = 0; index < 2; ++index)
    for (int i = 0; i < 50; ++i) {
      const std::string session = "s" + std::to_string(i), base = "reply." + std::to_string(i);
      auto t = kafka_topic_served_by(session, base, 4, 2, index);
      REQUIRE(t);
      CHECK(kafka_partition_of({"A", session, *t}, 4) % 2 == index);
      if (kafka_partition_of({"A", session, base}, 4) % 2 == index)
        CHECK(*t == base);
      else
        CHECK(t->starts_with(base + "."));
    }
  // One replica, or one partition for replica 0: every topic fits, unchanged.
  CHECK(kafka_topic_served_by("s", "reply.x", 4, 1, 0) == "reply.x");
  CHECK(kafka_topic_served_by("s", "reply.x", 1, 3, 0) == "reply.x");
  // A replica that owns no partition (index >= partitions) serves no topic.
  CHECK_FALSE(kafka_topic_served_by("s", "reply.x", 2, 3, 2));
  CHECK_FALSE(kafka_topic_served_by("s", "reply.x", 1, 2, 1));
  // Many replicas, each owning one partition of many: still found.
  auto t = kafka_topic_served_by("s", "reply.y", 64, 64, 63);
  REQUIRE(t);
  CHECK(kafka_partition_of({"A", "s", *t}, 64) == 63);
}

TEST_CASE("kafka store: each of two replicas picks topics it serves; the other answers 607") {
  KafkaBackend kc;
  KafkaQueueOptions o0 = kc.options(), o1 = kc.options();
  o0.replica_count = o1.replica_count = 2;
  o1.replica_index = 1;
  if (kc.mock) kc.mock->create_topic(kafka_data_topic(kc.prefix, "A"), 4, 3);
  auto r0 = KafkaBackend::open_with(o0), r1 = KafkaBackend::open_with(o1);
  QueueStore* replicas[] = {r0.get(), r1.get()};
  for (int i = 0; i < 8; ++i)
    for (int r = 0; r < 2; ++r) {
      const std::string session = "s" + std::to_string(i);
      auto [st, topic] = served_topic_sync(*replicas[r], "A", session, "reply.r" + session);
      REQUIRE(st.ok());
      const QueueKey key{"A", session, topic};
      CHECK(kafka_partition_of(key, 4) % 2 == r);
      // Its own replica waits on it (an empty queue: no message, no error) ...
      auto [own, none] = pop_sync(*replicas[r], key, 10ms);
      CHECK(own.ok());
      CHECK_FALSE(none);
      // ... and a message this node pushes there through either replica arrives there.
      REQUIRE(push_sync(*replicas[1 - r], key, "reply-" + session, "answer").ok());
      auto [got, m] = pop_sync(*replicas[r], key, 3s);
      REQUIRE(m);
      CHECK(m->env.body == "answer");
      // The other replica does not serve it.
      CHECK(pop_sync(*replicas[1 - r], key, 10ms).first.code == Code::kUnreachable);
    }
}

TEST_CASE("embedded store: every topic is served, the base unchanged") {
  EmbeddedBackend eb;
  auto s = eb.open();
  auto [st, topic] = served_topic_sync(*s, "A", "s1", "reply.abc");
  CHECK(st.ok());
  CHECK(topic == "reply.abc");
}

}  // namespace ptp::testing
