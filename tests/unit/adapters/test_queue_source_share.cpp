// The embedded store's share per source node (QueueLimits::max_source_bytes) and what a
// refused push leaves in its index (docs/queues.md "Limits").
#include "adapters/queue/queue_bookkeeping.h"
#include "tests/unit/queue_share_support.h"

namespace ptp::testing {
TEST_CASE("embedded queue store: one source node fills its share, not the store") {
  EmbeddedBackend backend;
  {
    auto s = backend.open(inbox_limits());
    Status refused;
    const int b = fill_from(*s, "B", refused);
    CHECK(b > 0);
    CHECK(static_cast<uint64_t>(b) * (1024 + queue_bookkeeping::kMessageOverheadBytes) <=
          16u << 10);
    CHECK(refused.code == Code::kBufferFull);
    CHECK(refused.message.find("node B") != std::string::npos);
    // Another peer and this node's own messages (source = the queue's node) still fit.
    Status other;
    CHECK(fill_from(*s, "C", other) == b);
    for (int i = 0; i < 20; ++i)
      CHECK(push_from(*s, {"A", "own", "t"}, "A", "own" + std::to_string(i)).ok());
    // B's room comes back as its messages are taken.
    auto got = pop_sync(*s, {"A", "B-0", "t"}, 0ms);
    REQUIRE(got.second);
    s->ack({"A", "B-0", "t"}, got.second->offset);
    CHECK(push_from(*s, {"A", "B-9", "t"}, "B", "again").ok());
    CHECK_FALSE(push_from(*s, {"A", "B-9", "t"}, "B", "again2").ok());
  }
  // After a restart the share is counted from the stored messages.
  auto s = backend.open(inbox_limits());
  CHECK(push_from(*s, {"A", "B-9", "t"}, "B", "after").code == Code::kBufferFull);
}

TEST_CASE("embedded queue store: the outbox's messages (max_source_bytes 0) have no share") {
  EmbeddedBackend backend;
  QueueLimits l = inbox_limits();
  l.max_source_bytes = 0;
  auto s = backend.open(l);
  Status refused;
  CHECK(fill_from(*s, "B", refused) > 16);
  CHECK(refused.code == Code::kBufferFull);
  CHECK(refused.message.find("node B") == std::string::npos);
}

TEST_CASE("embedded queue store: a refused push leaves no queue or session behind") {
  EmbeddedBackend backend;
  QueueLimits l;
  l.max_total_bytes = 8 << 10;
  auto s = backend.open(l);
  Status refused;
  fill_from(*s, "B", refused);
  REQUIRE(refused.code == Code::kBufferFull);
  const uint64_t queues = s->stats().queues;
  for (int i = 0; i < 500; ++i)
    CHECK(push_from(*s, {"A", "new-" + std::to_string(i), "topic-" + std::to_string(i)}, "B",
                    "n" + std::to_string(i))
              .code == Code::kBufferFull);
  CHECK(s->stats().queues == queues);
}

}  // namespace ptp::testing
