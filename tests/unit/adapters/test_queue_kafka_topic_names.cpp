// How node ids become parts of Kafka topic names (kafka_node_component, docs/queues-kafka.md
// "Topics"): plain ids unchanged, the others a marker and a digest, so every name is legal
// and no two nodes (or gateway/target pairs) share a topic.
#include <set>
#include <string>
#include <vector>

#include "adapters/queue/kafka/kafka_record.h"
#include "tests/unit/queue_test_support.h"

namespace ptp::testing {
namespace {

bool kafka_legal(const std::string& name) {
  return !name.empty() && name.size() <= 249 &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
             std::string::npos;
}

// The outbox's topic of (self, target), as open_queue_store lays it out.
std::string outbox_topic(const std::string& self, const std::string& target) {
  return kafka_data_topic("ptp.outbox." + kafka_node_component(self), target);
}

}  // namespace

TEST_CASE("kafka node component: plain ids unchanged, others a marker and a digest") {
  for (const char* id : {"B", "node-b", "node_A_1", "x-", "x-a", "X--a", "0"})
    CHECK(kafka_node_component(id) == id);
  // SHA-256("a:b") starts 6783a31eabf68ccc: the form is fixed, so names stay stable.
  CHECK(kafka_node_component("a:b") == "x--6783a31eabf68ccc");
  CHECK(kafka_node_component("b.c") == "x--b476cc5a2c583fbb");
  // An id that looks like an encoded one is encoded too, so it cannot pose as another.
  CHECK(kafka_node_component("x--a") == "x--4507e1e4afe6b882");
  CHECK(kafka_node_component("x--6783a31eabf68ccc") != "x--6783a31eabf68ccc");
  CHECK(kafka_data_topic("ptp.inbox", "a:b") == "ptp.inbox.x--6783a31eabf68ccc");
  CHECK(kafka_control_topic("ptp.inbox", "a.b") == "ptp.inbox.x--2e7336dc8eba87ef.control");
  CHECK(kafka_data_topic("ptp.inbox", "node-b") == "ptp.inbox.node-b");
}

TEST_CASE("kafka node component: injective on look-alike ids, legal, bounded") {
  const std::vector<std::string> ids = {"a",
                                        "a.b",
                                        "a_b",
                                        "a-b",
                                        "a:b",
                                        "a..b",
                                        "a.b.c",
                                        "a:b.c",
                                        "b.c",
                                        "c",
                                        "a_b_6783a31e",
                                        "x--",
                                        "x--a",
                                        "x-a",
                                        "x--6783a31eabf68ccc",
                                        ".",
                                        ":",
                                        "-",
                                        "_",
                                        "A.B",
                                        std::string(1024, 'n'),
                                        std::string(1024, '.'),
                                        std::string(1023, 'n') + ":"};
  std::set<std::string> components, topics;
  for (const auto& id : ids) {
    const std::string c = kafka_node_component(id);
    CAPTURE(id);
    CHECK(c.find('.') == std::string::npos);
    if (id.find_first_of(".:") != std::string::npos || id.starts_with("x--")) {
      CHECK(c.size() == 19);
      CHECK(c.starts_with(kKafkaDigestMarker));
    }
    components.insert(c);
    CHECK(kafka_legal(kafka_data_topic("ptp.inbox", id)));
    CHECK(kafka_legal(kafka_control_topic("ptp.inbox", id)));
    topics.insert(kafka_data_topic("ptp.inbox", id));
  }
  CHECK(components.size() == ids.size());
  CHECK(topics.size() == ids.size());
}

TEST_CASE("kafka topic names: gateway/target pairs never share an outbox topic") {
  // Self "a" pushing to "b.c" and self "a.b" pushing to "c" once both used
  // "ptp.outbox.a.b.c": one gateway read the other's messages.
  CHECK(outbox_topic("a", "b.c") != outbox_topic("a.b", "c"));
  CHECK(outbox_topic("a", "b.c.d") != outbox_topic("a.b", "c.d"));
  CHECK(outbox_topic("a.b.c", "d") != outbox_topic("a.b", "c.d"));
  CHECK(outbox_topic("a:b", "c") != outbox_topic("a_b", "c"));
  CHECK(outbox_topic("gw:1.east", "peer:2.west").find(':') == std::string::npos);
  CHECK(kafka_legal(outbox_topic("gw:1.east", "peer:2.west")));
  // Plain ids keep the names earlier versions gave them.
  CHECK(outbox_topic("gw-1", "peer_2") == "ptp.outbox.gw-1.peer_2");
  // Every pair's data and control topics are distinct from all others'.
  std::set<std::string> seen;
  const std::vector<std::string> ids = {"a", "b", "c", "a.b", "b.c", "a.b.c", "a:b", "c.control"};
  for (const auto& self : ids)
    for (const auto& target : ids) {
      const std::string prefix = "ptp.outbox." + kafka_node_component(self);
      seen.insert(kafka_data_topic(prefix, target));
      seen.insert(kafka_control_topic(prefix, target));
    }
  CHECK(seen.size() == 2 * ids.size() * ids.size());
}

}  // namespace ptp::testing
