// The QueueStore conformance suite (adapters/queue/queue_store.h, docs/queues.md): every
// case runs against the embedded RocksDB store and against the Kafka store (on
// librdkafka's mock cluster, or PTP_TEST_KAFKA_BOOTSTRAP).
#include <algorithm>
#include <cstdio>
#include <thread>
#include <type_traits>

#include "adapters/queue/queue_bookkeeping.h"
#include "tests/unit/queue_test_support.h"

using namespace ptp;
using namespace ptp::testing;
TYPE_TO_STRING(EmbeddedBackend);
TYPE_TO_STRING(KafkaBackend);

#define QUEUE_BACKENDS EmbeddedBackend, KafkaBackend

TEST_CASE_TEMPLATE("queue store: FIFO per queue, offsets increase, queues independent", B,
                   QUEUE_BACKENDS) {
  B backend;
  auto s = backend.open();
  const QueueKey k{"B", "s1", "t"}, other{"B", "s1", "other"};
  push_many(*s, k, 20);
  REQUIRE(push_sync(*s, other, "x", "other").ok());
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    auto [st, m] = pop_sync(*s, k, 1s);
    REQUIRE(st.ok());
    REQUIRE(m);
    CHECK(m->message_id == "m" + std::to_string(i));
    CHECK(m->env.body == "payload " + std::to_string(i));
    CHECK(m->env.header.source_node_id == "A");
    CHECK(m->env.meta.at("message-topic") == "t");
    if (i > 0) CHECK(m->offset > last);
    last = m->offset;
    s->ack(k, m->offset);
  }
  CHECK_FALSE(pop_sync(*s, k, 0ms).second);
  CHECK(pop_sync(*s, other, 0ms).second->env.body == "other");
}

TEST_CASE_TEMPLATE("queue store: pop waits for a push, times out empty, cancel answers at once", B,
                   QUEUE_BACKENDS) {
  B backend;
  auto s = backend.open();
  const QueueKey k{"B", "s1", "t"}, empty{"B", "s1", "empty"};
  CHECK_FALSE(pop_sync(*s, empty, 0ms).second);  // attached and empty
  auto t0 = std::chrono::steady_clock::now();
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    CHECK(push_sync(*s, k, "late", "late").ok());
  });
  auto [st, m] = pop_sync(*s, k, 5000ms);
  later.join();
  REQUIRE(m);
  CHECK(m->env.body == "late");
  CHECK(std::chrono::steady_clock::now() - t0 < 3000ms);

  t0 = std::chrono::steady_clock::now();
  auto [st2, none] = pop_sync(*s, empty, 150ms);
  CHECK(st2.ok());
  CHECK_FALSE(none);
  CHECK(std::chrono::steady_clock::now() - t0 >= 140ms);

  std::promise<bool> got;
  uint64_t ticket = s->pop(empty, 10000ms, [&](Status, std::optional<QueuedMessage> q) {
    got.set_value(q.has_value());
  });
  t0 = std::chrono::steady_clock::now();
  s->cancel_pop(ticket);
  CHECK_FALSE(got.get_future().get());
  CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);
}

TEST_CASE_TEMPLATE("queue store: leases, nack, and a restart redelivers exactly the un-acked", B,
                   QUEUE_BACKENDS) {
  B backend;
  const QueueKey k{"B", "s1", "t"};
  {
    auto s = backend.open();
    push_many(*s, k, 40);
    auto [st, first] = pop_sync(*s, k, 1s);
    REQUIRE(first);
    // Leased: the next pop gets the second message; a nack puts the first back at the head.
    auto [st2, second] = pop_sync(*s, k, 1s);
    REQUIRE(second);
    CHECK(second->message_id == "m1");
    s->nack(k, first->offset);
    auto [st3, again] = pop_sync(*s, k, 1s);
    REQUIRE(again);
    CHECK(again->message_id == "m0");
    s->nack(k, again->offset);
    s->nack(k, second->offset);
    // Pop all 40, ack every odd one (not a contiguous prefix); the rest stay leased.
    std::vector<QueuedMessage> got;
    for (int i = 0; i < 40; ++i) {
      auto [sti, m] = pop_sync(*s, k, 2s);
      REQUIRE(m);
      got.push_back(*m);
    }
    for (const auto& m : got)
      if (std::stoi(m.message_id.substr(1)) % 2 == 1) s->ack(k, m.offset);
  }
  auto s = backend.open();
  std::vector<std::string> ids = drain(*s, k, 500ms);
  REQUIRE(ids.size() == 20);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(ids[i] == "m" + std::to_string(2 * i));
  s.reset();
  auto again = backend.open();  // everything acked now
  wait_caught_up(*again, k.node);
  CHECK(pop_sync(*again, k, 300ms).second == std::nullopt);
}

TEST_CASE_TEMPLATE("queue store: a message id is stored once, also after ack and a restart", B,
                   QUEUE_BACKENDS) {
  B backend;
  const QueueKey k{"B", "s1", "t"};
  {
    auto s = backend.open();
    REQUIRE(push_sync(*s, k, "dup", "a").ok());
    REQUIRE(push_sync(*s, k, "dup", "a").ok());
    push_many(*s, k, 5);
    auto [st, m] = pop_sync(*s, k, 1s);
    REQUIRE(m);
    CHECK(m->message_id == "dup");
    s->ack(k, m->offset);
    REQUIRE(push_sync(*s, k, "dup", "a").ok());  // within the dedup window
    CHECK(drain(*s, k, 200ms).size() == 5);
  }
  auto s = backend.open();
  REQUIRE(push_sync(*s, k, "dup", "a").ok());
  REQUIRE(push_sync(*s, k, "m3", "again").ok());
  CHECK(pop_sync(*s, k, 300ms).second == std::nullopt);
}

TEST_CASE_TEMPLATE("queue store: peek neither removes nor leases", B, QUEUE_BACKENDS) {
  B backend;
  auto s = backend.open();
  const QueueKey k{"B", "s1", "t"};
  CHECK_FALSE(peek_sync(*s, k).second);
  REQUIRE(push_sync(*s, k, "p", "peeked").ok());
  CHECK(peek_sync(*s, k).second->env.body == "peeked");
  CHECK(peek_sync(*s, k).second->env.body == "peeked");
  CHECK(pop_sync(*s, k, 0ms).second->env.body == "peeked");
}

TEST_CASE_TEMPLATE("queue store: release of a topic, of a session (608), remembered after restart",
                   B, QUEUE_BACKENDS) {
  B backend;
  const QueueKey keep{"B", "s1", "keep"}, drop{"B", "s1", "drop"}, other{"B", "s2", "keep"};
  {
    auto s = backend.open();
    push_many(*s, keep, 3);
    push_many(*s, drop, 3);
    push_many(*s, other, 2);
    REQUIRE(release_sync(*s, "B", "s1", "drop").ok());
    CHECK_FALSE(pop_sync(*s, drop, 100ms).second);
    CHECK(peek_sync(*s, keep).second->message_id == "m0");
    REQUIRE(push_sync(*s, drop, "after", "x").ok());  // the session itself lives on
    CHECK(pop_sync(*s, drop, 1s).second->message_id == "after");
    // A waiting pop of a session being released answers 608.
    std::promise<Status> waiting;
    s->pop({"B", "s1", "keep2"}, 5000ms,
           [&](Status st, std::optional<QueuedMessage>) { waiting.set_value(st); });
    std::this_thread::sleep_for(50ms);
    REQUIRE(release_sync(*s, "B", "s1").ok());
    CHECK(waiting.get_future().get().code == Code::kSessionReleased);
    CHECK(pop_sync(*s, keep, 100ms).first.code == Code::kSessionReleased);
    CHECK(push_sync(*s, keep, "n", "n").code == Code::kSessionReleased);
    CHECK(peek_sync(*s, keep).first.code == Code::kSessionReleased);
    CHECK(s->stats().messages == 2);
  }
  auto s = backend.open();
  wait_caught_up(*s, keep.node);
  CHECK(pop_sync(*s, keep, 100ms).first.code == Code::kSessionReleased);
  CHECK(push_sync(*s, drop, "z", "y").code == Code::kSessionReleased);
  CHECK(drain(*s, other, 500ms).size() == 2);
}

TEST_CASE_TEMPLATE("queue store: 413 oversize; 700 after waiting; a waiting push gets in on ack", B,
                   QUEUE_BACKENDS) {
  B backend;
  QueueLimits lim;
  lim.max_message_bytes = 100;
  // Limits count footprints: payload, id, header, metadata and the fixed overhead.
  const uint64_t fp = queue_bookkeeping::footprint(message("a", std::string(100, 'a')));
  lim.max_session_bytes = 2 * fp + fp / 2;
  lim.max_total_bytes = 4 * fp;
  auto s = backend.open(lim);
  const QueueKey k{"B", "s1", "t"}, k2{"B", "s2", "t"};
  CHECK(push_sync(*s, k, "big", std::string(101, 'x')).code == Code::kTooLarge);
  REQUIRE(push_sync(*s, k, "a", std::string(100, 'a')).ok());
  REQUIRE(push_sync(*s, k, "b", std::string(100, 'b')).ok());
  auto t0 = std::chrono::steady_clock::now();
  CHECK(push_sync(*s, k, "c", std::string(100, 'c'), 150ms).code == Code::kBufferFull);
  CHECK(std::chrono::steady_clock::now() - t0 >= 140ms);
  // Another session has room of its own until the total is reached.
  REQUIRE(push_sync(*s, k2, "d", std::string(100, 'd')).ok());
  REQUIRE(push_sync(*s, k2, "f", std::string(100, 'f')).ok());
  CHECK(push_sync(*s, k2, "g", std::string(10, 'g')).code == Code::kBufferFull);
  // A waiting push proceeds once a pop+ack frees room.
  std::promise<Status> waiting;
  s->push(k, message("c", std::string(100, 'c')), 5s, [&](Status st) { waiting.set_value(st); });
  std::this_thread::sleep_for(50ms);
  auto [st, m] = pop_sync(*s, k, 1s);
  REQUIRE(m);
  s->ack(k, m->offset);
  CHECK(waiting.get_future().get().ok());
  CHECK(drain(*s, k, 200ms) == std::vector<std::string>{"b", "c"});
}

TEST_CASE_TEMPLATE(
    "queue store: empty messages are charged their footprint; a message count per session", B,
    QUEUE_BACKENDS) {
  B backend;
  QueueLimits lim;
  lim.max_session_bytes = 1 << 20;
  lim.max_total_bytes = 1 << 20;
  auto s = backend.open(lim);
  const QueueKey k{"B", "s1", "t"};
  // Payload bytes alone would let every one of them in.
  const uint64_t fp = queue_bookkeeping::footprint(message("e-0000", ""));
  CHECK(fp >= queue_bookkeeping::kMessageOverheadBytes);
  size_t stored = 0;
  Status last;
  for (int i = 0; i < 5000; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "e-%04d", i);
    last = push_sync(*s, k, id, "");
    if (!last.ok()) break;
    ++stored;
  }
  CHECK(last.code == Code::kBufferFull);
  CHECK(stored == (1 << 20) / fp);
  CHECK(s->stats().bytes == stored * fp);
  // The count limit: a fresh store with room for bytes but three messages per session.
  B other;
  QueueLimits few;
  few.max_session_messages = 3;
  auto s2 = other.open(few);
  for (const char* id : {"a", "b", "c"}) REQUIRE(push_sync(*s2, k, id, "x").ok());
  Status full = push_sync(*s2, k, "d", "x");
  CHECK(full.code == Code::kBufferFull);
  CHECK(full.message.find("3 messages") != std::string::npos);
  // Another session has its own count; an ack makes room.
  CHECK(push_sync(*s2, QueueKey{"B", "s2", "t"}, "d", "x").ok());
  auto [st, m] = pop_sync(*s2, k, 1s);
  REQUIRE(m);
  s2->ack(k, m->offset);
  CHECK(push_sync(*s2, k, "d", "x").ok());
}

TEST_CASE_TEMPLATE("queue store: concurrent pushes are all stored once; stats", B, QUEUE_BACKENDS) {
  B backend;
  auto s = backend.open();
  const QueueKey k{"B", "s1", "t"};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i)
        CHECK(push_sync(*s, k, std::to_string(t) + "-" + std::to_string(i % 25), "x").ok());
    });
  for (auto& t : ts) t.join();
  CHECK(s->stats().messages == 100);  // 25 distinct ids per thread
  uint64_t footprints = 0;            // what the limits count
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < 25; ++i)
      footprints +=
          queue_bookkeeping::footprint(message(std::to_string(t) + "-" + std::to_string(i), "x"));
  CHECK(s->stats().bytes == footprints);
  CHECK(s->stats().queues == 1);
}

TEST_CASE_TEMPLATE("queue store: nodes_at_open names the nodes with messages left", B,
                   QUEUE_BACKENDS) {
  B backend;
  const QueueKey b{"B", "s1", "t"}, c{"C.x-1", "s2", "t"};
  {
    auto s = backend.open();
    CHECK(s->nodes_at_open().empty());
    push_many(*s, b, 3);
    push_many(*s, c, 2);
  }
  auto s = backend.open();
  std::vector<std::string> nodes = s->nodes_at_open();
  std::sort(nodes.begin(), nodes.end());
  CHECK(nodes == std::vector<std::string>{"B", "C.x-1"});
  // The list is what was there at open: new queues do not change it.
  push_many(*s, QueueKey{"D", "s3", "t"}, 1);
  CHECK(s->nodes_at_open().size() == 2);
}

TEST_CASE_TEMPLATE("queue store: at most dedup_max_ids acked ids are remembered, the newest", B,
                   QUEUE_BACKENDS) {
  B backend;
  QueueLimits limits;
  limits.dedup_max_ids = 5;
  const QueueKey k{"B", "s1", "t"};
  auto s = backend.open(limits);
  push_many(*s, k, 10);
  CHECK(drain(*s, k, 300ms).size() == 10);  // all acked
  // m0..m4 left the window early; m5..m9 are still remembered.
  for (int i = 0; i < 10; ++i) REQUIRE(push_sync(*s, k, "m" + std::to_string(i), "again").ok());
  std::vector<std::string> again = drain(*s, k, 300ms);
  CHECK(again == std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"});
}

// Inspection (admin /queues/list, /queues/peek, /queues/purge): the embedded store lists,
// peeks several and purges; the Kafka store answers 400 naming itself.
TEST_CASE_TEMPLATE("queue store: list, peek several, purge without 608 (Kafka: 400)", B,
                   QUEUE_BACKENDS) {
  B backend;
  const QueueKey t{"B", "s1", "t"}, u{"B", "s1", "u"}, other{"B", "s2", "t"}, c{"C", "s1", "t"};
  if constexpr (std::is_same_v<B, KafkaBackend>) {
    auto s = backend.open();
    const ListResult l = list_sync(*s, {});
    CHECK(l.status.code == Code::kBadRequest);
    CHECK(l.status.message == "listing queues is not available with the Kafka queue store");
    CHECK(peek_messages_sync(*s, t, 5).first.code == Code::kBadRequest);
    const auto [st, n] = purge_sync(*s, "B", "s1");
    CHECK(st.code == Code::kBadRequest);
    CHECK(st.message.find("Kafka queue store") != std::string::npos);
    return;
  }
  const auto unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = unix_ms();
  {
    auto s = backend.open();
    push_many(*s, t, 3);
    push_many(*s, u, 2, "u");
    push_many(*s, other, 1, "o");
    push_many(*s, c, 1, "c");
    const int64_t after = unix_ms();
    auto [st0, leased] = pop_sync(*s, t, 1s);  // m0 or whichever is first: leased now
    REQUIRE(leased);
    CHECK(leased->message_id == "m0");

    ListResult l = list_sync(*s, {});
    REQUIRE(l.status.ok());
    CHECK_FALSE(l.truncated);
    REQUIRE(l.queues.size() == 4);
    CHECK(l.queues[0].key == t);
    CHECK(l.queues[1].key == u);
    CHECK(l.queues[2].key == other);
    CHECK(l.queues[3].key == c);
    CHECK(l.queues[0].messages == 3);
    CHECK(l.queues[0].leased == 1);
    CHECK(l.queues[1].messages == 2);
    CHECK(l.queues[1].leased == 0);
    uint64_t bytes_t = 0;
    for (int i = 0; i < 3; ++i)
      bytes_t += queue_bookkeeping::footprint(
          message("m" + std::to_string(i), "payload " + std::to_string(i)));
    CHECK(l.queues[0].bytes == bytes_t);
    uint64_t sum = 0;
    for (const auto& q : l.queues) {
      sum += q.bytes;
      CHECK(q.oldest_ms >= before);
      CHECK(q.oldest_ms <= after);
    }
    CHECK(sum == s->stats().bytes);

    // Filters and the limit.
    CHECK(list_sync(*s, {"B", "s1", "", 1000}).queues.size() == 2);
    CHECK(list_sync(*s, {"", "", "t", 1000}).queues.size() == 3);
    CHECK(list_sync(*s, {"C", "", "", 1000}).queues.size() == 1);
    CHECK(list_sync(*s, {"X", "", "", 1000}).queues.empty());
    l = list_sync(*s, {"", "", "", 2});
    CHECK(l.queues.size() == 2);
    CHECK(l.truncated);

    // Peek several: offset order, the leased one flagged, nothing leased by it.
    auto [pst, peeked] = peek_messages_sync(*s, t, 10);
    REQUIRE(pst.ok());
    REQUIRE(peeked.size() == 3);
    CHECK(peeked[0].msg.message_id == "m0");
    CHECK(peeked[0].leased);
    CHECK(peeked[1].msg.message_id == "m1");
    CHECK_FALSE(peeked[1].leased);
    CHECK(peeked[2].msg.env.body == "payload 2");
    CHECK(peeked[1].msg.offset < peeked[2].msg.offset);
    CHECK(peeked[2].stored_ms >= before);
    CHECK(peek_messages_sync(*s, t, 2).second.size() == 2);
    CHECK(peek_messages_sync(*s, {"B", "s1", "none"}, 2).second.empty());
    auto [st1, next] = pop_sync(*s, t, 1s);
    REQUIRE(next);
    CHECK(next->message_id == "m1");

    // Purge one topic: leased ones too; the session lives on, offsets go on.
    auto [pu, n] = purge_sync(*s, "B", "s1", "t");
    REQUIRE(pu.ok());
    CHECK(n == 3);
    s->ack(t, leased->offset);  // a purged lease: nothing happens
    CHECK_FALSE(pop_sync(*s, t, 50ms).second);
    REQUIRE(push_sync(*s, t, "new", "after purge").ok());
    auto [st2, fresh] = pop_sync(*s, t, 1s);
    REQUIRE(fresh);
    CHECK(fresh->message_id == "new");
    CHECK(fresh->offset > next->offset);
    s->nack(t, fresh->offset);
    CHECK(peek_messages_sync(*s, u, 5).second.size() == 2);
    // A waiting pop is not disturbed by a purge of its session.
    std::promise<std::optional<QueuedMessage>> waiting;
    s->pop({"B", "s1", "w"}, 5000ms,
           [&](Status, std::optional<QueuedMessage> m) { waiting.set_value(std::move(m)); });
    // Purge the whole session: no 608 afterwards.
    auto [pu2, n2] = purge_sync(*s, "B", "s1");
    REQUIRE(pu2.ok());
    CHECK(n2 == 3);  // u's two and t's "new"
    REQUIRE(push_sync(*s, {"B", "s1", "w"}, "w1", "for the waiting pop").ok());
    auto got = waiting.get_future().get();
    REQUIRE(got);
    CHECK(got->message_id == "w1");
    s->ack({"B", "s1", "w"}, got->offset);
    CHECK(peek_sync(*s, u).first.ok());
    CHECK(s->stats().messages == 2);  // other and c
    CHECK(purge_sync(*s, "B", "nothing-here").second == 0);
    // A released session: 608 for peek, as for every other use.
    REQUIRE(release_sync(*s, "C", "s1").ok());
    CHECK(peek_messages_sync(*s, c, 5).first.code == Code::kSessionReleased);
  }
  // Durable: after a restart the purged messages stay gone.
  auto s = backend.open();
  const ListResult l = list_sync(*s, {});
  REQUIRE(l.queues.size() == 1);
  CHECK(l.queues[0].key == other);
  CHECK(drain(*s, t, 100ms).empty());
}
