// Which replica of a node takes a push (docs/queues-kafka.md "Replicas"): with the default
// pushes: owner, a peer's push to a partition another replica owns answers E0000000607
// naming the owner, so the owner checks every peer's push against its limits and shares;
// with pushes: any, every replica takes it and the owner indexes it unchecked.
#include "adapters/queue/kafka/kafka_record.h"
#include "tests/unit/queue_share_support.h"

namespace ptp::testing {
namespace {

// Two replicas of node A over the same 4-partition inbox.
struct TwoReplicas {
  KafkaBackend kc;
  std::unique_ptr<KafkaQueueStore> r0, r1;

  explicit TwoReplicas(bool owner_only = true) {
    KafkaQueueOptions o0 = kc.options(inbox_limits()), o1 = kc.options(inbox_limits());
    o0.replica_count = o1.replica_count = 2;
    o1.replica_index = 1;
    if (!owner_only) o0.pushes = o1.pushes = KafkaPushes::kAny;
    if (kc.mock) kc.mock->create_topic(kafka_data_topic(kc.prefix, "A"), 4, 3);
    r0 = KafkaBackend::open_with(o0);
    r1 = KafkaBackend::open_with(o1);
  }
};

// The first `n` sessions whose queue (A, session, "t") replica 1 owns.
std::vector<QueueKey> owned_by_replica1(int n) {
  std::vector<QueueKey> keys;
  for (int i = 0; static_cast<int>(keys.size()) < n; ++i) {
    QueueKey k{"A", "s" + std::to_string(i), "t"};
    if (kafka_partition_of(k, 4) % 2 == 1) keys.push_back(k);
  }
  return keys;
}

// The bytes replica `r` has indexed from node A's topic once they stopped growing for a
// while (a peek attaches the node: a replica reads a node's topic from its first use on).
uint64_t settled_bytes(QueueStore& r, const QueueKey& owned) {
  (void)peek_sync(r, owned);
  uint64_t last = r.stats().bytes;
  for (int quiet = 0, i = 0; quiet < 10 && i < 300; ++i) {
    std::this_thread::sleep_for(20ms);
    const uint64_t now = r.stats().bytes;
    quiet = now == last ? quiet + 1 : 0;
    last = now;
  }
  return last;
}

}  // namespace

TEST_CASE("kafka store: a peer's push through a replica that does not own its queue is refused") {
  TwoReplicas rs;
  std::vector<QueueKey> keys = owned_by_replica1(5);
  const QueueKey own = keys.back();
  keys.pop_back();
  // Through replica 0, every push of peer B to replica 1's queues answers 607 naming the
  // owner, in the text a pop gets; nothing of them is stored.
  for (int i = 0; i < 60; ++i) {
    const QueueKey& k = keys[i % keys.size()];
    Status st = push_from(*rs.r0, k, "B", "via0-" + std::to_string(i));
    REQUIRE(st.code == Code::kUnreachable);
    CHECK(st.message == "queue t of session " + k.session + " is served by replica 1 of node A");
  }
  CHECK(pop_sync(*rs.r0, keys[0], 10ms).first.message ==
        "queue t of session " + keys[0].session + " is served by replica 1 of node A");
  // Through the owner, B's pushes stop at its share, and only what fits is stored.
  Status refused;
  int taken = 0;
  for (int i = 0; i < 200 && refused.ok(); ++i) {
    refused = push_from(*rs.r1, keys[i % keys.size()], "B", "via1-" + std::to_string(i));
    if (refused.ok()) ++taken;
  }
  CHECK(taken > 0);
  CHECK(refused.code == Code::kBufferFull);
  CHECK(has(refused, "queue store is full for messages of node B ("));
  CHECK(settled_bytes(*rs.r1, keys[0]) <= inbox_limits().max_source_bytes);
  // This node's own messages (source = the queue's node: its clients' pushes, dead letters,
  // replies) are still taken by either replica.
  REQUIRE(push_from(*rs.r0, own, "A", "own").ok());
  auto [st, m] = pop_sync(*rs.r1, own, 3s);
  REQUIRE(m);
  CHECK(m->message_id == "A/own");
}

TEST_CASE(
    "kafka store: with pushes any, a non-owner takes a peer's pushes past the owner's share") {
  TwoReplicas rs(false);
  const std::vector<QueueKey> keys = owned_by_replica1(4);
  // The documented risk of the opt-out: replica 0 takes B's pushes for replica 1's queues
  // (they count at replica 0 only until Kafka has them) and replica 1 indexes them all.
  for (int i = 0; i < 60; ++i)
    REQUIRE(push_from(*rs.r0, keys[i % keys.size()], "B", "via0-" + std::to_string(i)).ok());
  CHECK(settled_bytes(*rs.r1, keys[0]) > 3 * inbox_limits().max_source_bytes);
  CHECK(rs.r0->stats().bytes == 0);
}

}  // namespace ptp::testing
