// The Kafka store's shares per node (QueueLimits::max_source_bytes, the inbox's, and
// max_target_bytes, the outbox's), counted like the embedded store's
// (test_queue_source_share.cpp, test_queue_target_share.cpp), also after a restart, when
// the store reads its topics back (docs/queues-kafka.md "Limits").
#include "adapters/queue/queue_bookkeeping.h"
#include "tests/unit/queue_share_support.h"

namespace ptp::testing {
namespace {

// Pops and acknowledges the head of `k` (its bytes leave the counts).
void take_one(QueueStore& s, const QueueKey& k) {
  auto got = pop_sync(s, k, 3s);
  REQUIRE(got.second);
  s.ack(k, got.second->offset);
}

}  // namespace

TEST_CASE("kafka store: one source node fills its share, not the store") {
  KafkaBackend kc;
  Status last;
  {
    auto s = kc.open(inbox_limits());
    Status refused;
    const int b = fill_from(*s, "B", refused);
    CHECK(b > 0);
    CHECK(static_cast<uint64_t>(b) * (1024 + queue_bookkeeping::kMessageOverheadBytes) <=
          16u << 10);
    CHECK(refused.code == Code::kBufferFull);
    CHECK(has(refused, "queue store is full for messages of node B ("));
    CHECK(has(refused, "limit 16384 per source node)"));
    // Another peer and this node's own messages (source = the queue's node) still fit.
    Status other;
    CHECK(fill_from(*s, "C", other) == b);
    CHECK(has(other, "messages of node C"));
    for (int i = 0; i < 20; ++i)
      CHECK(push_from(*s, {"A", "own", "t"}, "A", "own" + std::to_string(i)).ok());
    // B's room comes back as its messages are acknowledged (not before).
    take_one(*s, {"A", "B-0", "t"});
    CHECK(push_from(*s, {"A", "B-9", "t"}, "B", "again1").ok());
    last = push_from(*s, {"A", "B-9", "t"}, "B", "again2");
    CHECK(last.code == Code::kBufferFull);
  }
  // After a restart the share is counted from the records read back: B's next push is
  // refused with the same numbers (the acknowledged message no longer counts), C's too,
  // and this node's own still fit.
  auto s = kc.open(inbox_limits());
  Status after = push_from(*s, {"A", "B-9", "t"}, "B", "after2");
  CHECK(after.code == Code::kBufferFull);
  CHECK(after.message == last.message);
  CHECK(push_from(*s, {"A", "C-1", "t"}, "C", "after2").code == Code::kBufferFull);
  CHECK(push_from(*s, {"A", "own", "t"}, "A", "after2").ok());
}

TEST_CASE("kafka store: a target that takes nothing holds its share, not the store") {
  KafkaBackend kc;
  Status last;
  {
    auto s = kc.open(outbox_limits());
    Status refused;
    const int b = fill_towards(*s, "B", refused);
    CHECK(b > 0);
    CHECK(static_cast<uint64_t>(b) * (1024 + queue_bookkeeping::kMessageOverheadBytes) <=
          16u << 10);
    CHECK(refused.code == Code::kBufferFull);
    CHECK(has(refused, "queue store is full for messages to node B ("));
    CHECK(has(refused, "limit 16384 per target node)"));
    // Messages to another target still fit, as many as B's.
    Status other;
    CHECK(fill_towards(*s, "C", other) == b);
    CHECK(has(other, "messages to node C"));
    // B's room comes back as its messages are delivered (acknowledged).
    take_one(*s, {"B", "s-0", ""});
    CHECK(push_sync(*s, {"B", "s-9", ""}, "again1", std::string(1024, 'x')).ok());
    last = push_sync(*s, {"B", "s-9", ""}, "again2", std::string(1024, 'x'));
    CHECK(last.code == Code::kBufferFull);
  }
  // After a restart the share is counted from the records read back.
  auto s = kc.open(outbox_limits());
  Status after = push_sync(*s, {"B", "s-9", ""}, "after2", std::string(1024, 'x'));
  CHECK(after.code == Code::kBufferFull);
  CHECK(after.message == last.message);
  // A target with nothing queued has its whole share.
  CHECK(push_sync(*s, {"D", "s-0", ""}, "d0", std::string(1024, 'x')).ok());
}

}  // namespace ptp::testing
