// The embedded store's share per target node (QueueLimits::max_target_bytes, the outbox's)
// and the refusal texts that name the limit reached (docs/queues.md "Limits").
#include "adapters/queue/queue_bookkeeping.h"
#include "adapters/queue/queue_status.h"
#include "tests/unit/queue_share_support.h"

namespace ptp::testing {
TEST_CASE("embedded queue store: a target that takes nothing holds its share, not the store") {
  EmbeddedBackend backend;
  {
    auto s = backend.open(outbox_limits());
    Status refused;
    const int b = fill_towards(*s, "B", refused);
    CHECK(b > 0);
    CHECK(static_cast<uint64_t>(b) * (1024 + queue_bookkeeping::kMessageOverheadBytes) <=
          16u << 10);
    CHECK(refused.code == Code::kBufferFull);
    CHECK(has(refused, "messages to node B"));
    CHECK(has(refused, "limit 16384 per target node"));
    // Messages to other targets still fit, as many as B's.
    Status other;
    CHECK(fill_towards(*s, "C", other) == b);
    CHECK(has(other, "messages to node C"));
    // B's room comes back as its messages are delivered.
    auto got = pop_sync(*s, {"B", "s-0", ""}, 0ms);
    REQUIRE(got.second);
    s->ack({"B", "s-0", ""}, got.second->offset);
    CHECK(push_sync(*s, {"B", "s-9", ""}, "again", std::string(1024, 'x')).ok());
    CHECK(push_sync(*s, {"B", "s-9", ""}, "again2", std::string(1024, 'x')).code ==
          Code::kBufferFull);
  }
  // After a restart the share is counted from the stored messages.
  auto s = backend.open(outbox_limits());
  Status refused = push_sync(*s, {"B", "s-9", ""}, "after", std::string(1024, 'x'));
  CHECK(refused.code == Code::kBufferFull);
  CHECK(has(refused, "messages to node B"));
}

TEST_CASE("embedded queue store: the inbox (max_target_bytes 0) has no share per target") {
  EmbeddedBackend backend;
  QueueLimits l = outbox_limits();
  l.max_target_bytes = 0;
  auto s = backend.open(l);
  Status refused;
  CHECK(fill_towards(*s, "B", refused) > 16);
  CHECK(refused.code == Code::kBufferFull);
  CHECK(has(refused, "queue store is full ("));
}

TEST_CASE("queue_status::full names the limit that refuses the message, with its numbers") {
  QueueLimits l;
  l.max_total_bytes = 8192;
  l.max_session_bytes = 4096;
  l.max_session_messages = 10;
  // The store is what refuses: the session holds little, the store has 200 bytes left.
  Status st = queue_status::full("s1", 600, 1, 7992, 600, l);
  CHECK(st.code == Code::kBufferFull);
  CHECK(st.message ==
        "queue store is full (7992 bytes queued + 600 bytes of this message, limit 8192)");
  // The session's bytes refuse it (the store has room).
  st = queue_status::full("s1", 3800, 2, 3800, 600, l);
  CHECK(st.message ==
        "queue of session s1 is full (3800 bytes queued + 600 bytes of this message, limit 4096)");
  // The session's message count.
  st = queue_status::full("s1", 100, 10, 100, 600, l);
  CHECK(st.message == "queue of session s1 is full (10 messages queued, limit 10)");
}

TEST_CASE("embedded queue store: a push refused by the full store says so, not its session") {
  EmbeddedBackend backend;
  QueueLimits l;
  l.max_total_bytes = 8 << 10;
  auto s = backend.open(l);
  for (int i = 0; i < 100; ++i)
    if (!push_sync(*s, {"A", "big", "t"}, "m" + std::to_string(i), std::string(1024, 'x')).ok())
      break;
  Status st = push_sync(*s, {"A", "new", "t"}, "n", std::string(1024, 'x'));
  CHECK(st.code == Code::kBufferFull);
  CHECK(has(st, "queue store is full ("));
  CHECK(has(st, "limit 8192)"));
  CHECK_FALSE(has(st, "session"));
}

}  // namespace ptp::testing
