// What only the Kafka queue store has (the shared semantics are in
// test_queue_conformance.cpp): record layout, topic names, offset tracking, broker errors
// injected through the mock cluster API, replicas sharing a node's partitions.
#include <set>

#include "adapters/queue/kafka/kafka_offset_tracker.h"
#include "adapters/queue/kafka/kafka_record.h"
#include "tests/unit/queue_test_support.h"

namespace ptp::testing {

TEST_CASE("kafka record: header fields, metadata and payload round-trip") {
  QueueKey k{"node-b", "sess 1", "topic/x"};
  QueuedMessage m = message("id-1", std::string("bin\0ary", 7));
  m.env.header.trace_id = "tr";
  m.env.header.source_node_id = "A";
  m.env.meta["message-code"] = "";
  m.env.meta["x-ptp-odd"] = "v";
  m.env.content_type = "application/octet-stream";
  KafkaRecordReader r;
  std::vector<std::string> names;
  for_each_kafka_header(k, m, [&](std::string_view n, std::string_view v) {
    names.emplace_back(n);
    r.header(n, v);
  });
  CHECK(std::find(names.begin(), names.end(), "x-ptp-trace-id") != names.end());
  QueueKey k2;
  QueuedMessage m2;
  REQUIRE(r.finish(m.env.body, k2, m2).ok());
  CHECK(k2 == k);
  CHECK(m2.message_id == m.message_id);
  CHECK(m2.env.header == m.env.header);
  CHECK(m2.env.meta == m.env.meta);
  CHECK(m2.env.body == m.env.body);
  CHECK(m2.env.content_type == m.env.content_type);

  KafkaRecordReader empty;
  CHECK(empty.finish("x", k2, m2).code == Code::kCodecError);
}

TEST_CASE("kafka topic names: legal characters, no collisions, stable partitions") {
  const std::string a = kafka_data_topic("ptp.q", "node A/1");
  const std::string b = kafka_data_topic("ptp.q", "node_A_1");
  CHECK(a != b);
  CHECK(b == "ptp.q.node_A_1");
  CHECK(a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
        std::string::npos);
  CHECK(kafka_control_topic("ptp.q", "B") == "ptp.q.B.control");
  CHECK(kafka_data_topic("p", std::string(400, 'n')).size() < 249);
  // Stable: the same queue always maps to the same partition; queues spread out.
  std::set<int32_t> used;
  for (int i = 0; i < 64; ++i) {
    QueueKey k{"B", "s" + std::to_string(i), "t"};
    const int32_t p = kafka_partition_of(k, 8);
    CHECK(p == kafka_partition_of(k, 8));
    CHECK(p >= 0);
    CHECK(p < 8);
    used.insert(p);
  }
  CHECK(used.size() == 8);
}

TEST_CASE("kafka offset tracker: commits the done prefix, metadata keeps sparse acks") {
  KafkaOffsetTracker t;
  t.start(-1001, "");  // no committed offset yet
  for (int64_t o = 0; o < 6; ++o) {
    REQUIRE(t.consume(o));
    t.hold(o);
  }
  CHECK(t.commit_offset() == 0);
  t.done(1);
  t.done(3);
  t.done(4);
  CHECK(t.commit_offset() == 0);
  t.done(0);
  CHECK(t.commit_offset() == 2);
  const std::string meta = t.commit_metadata();
  CHECK(meta == "v1 6 2 5");

  // After a restart from (2, meta): 3 and 4 are skipped, 2 and 5 delivered again.
  KafkaOffsetTracker r;
  r.start(2, meta);
  CHECK(r.consume(2));
  CHECK_FALSE(r.consume(3));
  CHECK_FALSE(r.consume(4));
  CHECK(r.consume(5));
  CHECK(r.consume(6));

  // Own produce seen before the consumer: indexed once.
  KafkaOffsetTracker p;
  p.start(0, "");
  CHECK(p.produced(3));
  CHECK(p.consume(2));
  CHECK_FALSE(p.consume(3));
  CHECK_FALSE(p.produced(1));  // already read by the consumer

  // Own records acked before the consumer read them (it lags after fetch errors): the
  // committed offset moves past them, up to the first held one or a gap.
  KafkaOffsetTracker lag;
  lag.start(0, "");
  for (int64_t o : {0, 1, 2, 3, 4, 6}) {
    REQUIRE(lag.produced(o));
    lag.hold(o);
  }
  lag.done(0);
  lag.done(1);
  lag.done(3);
  CHECK(lag.commit_offset() == 2);
  CHECK(lag.commit_metadata() == "v1 7 2 4 5 6");
  lag.done(2);
  lag.done(4);
  lag.done(6);
  CHECK(lag.commit_offset() == 5);  // 5 is another replica's record, not read yet
  CHECK(lag.commit_metadata() == "v1 7 5");
  CHECK_FALSE(lag.consume(4));
  CHECK(lag.consume(5));
  CHECK(lag.commit_offset() == 7);

  // Garbage metadata only means redelivery.
  KafkaOffsetTracker g;
  g.start(5, "v1 x");
  CHECK(g.consume(5));
  // Too many owed offsets: the description is cut short, never wrong.
  KafkaOffsetTracker big;
  big.start(0, "");
  for (int64_t o = 0; o < 2000; ++o) {
    big.consume(o);
    if (o % 2 == 0) big.hold(o);
  }
  const std::string cut = big.commit_metadata(200);
  CHECK(cut.size() <= 200);
  KafkaOffsetTracker rb;
  rb.start(0, cut);
  for (int64_t o = 0; o < 2000; ++o)
    if (o % 2 == 0) CHECK(rb.consume(o));  // owed ones always come back
}

TEST_CASE("kafka store: produce errors injected by the broker lose and duplicate nothing") {
  KafkaBackend kc;
  if (!kc.mock) return;  // needs the mock cluster's error injection
  auto s = kc.open();
  QueueKey k{"B", "s1", "t"};
  REQUIRE(push_sync(*s, k, "warmup", "x").ok());  // attaches the node
  kc.mock->push_request_errors(
      KafkaApi::kProduce,
      {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
       RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
       RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
  push_many(*s, k, 300);
  std::vector<std::string> ids = drain(*s, k, 500ms);
  REQUIRE(ids.size() == 301);
  CHECK(ids[0] == "warmup");
  for (int i = 0; i < 300; ++i) CHECK(ids[i + 1] == "m" + std::to_string(i));
}

TEST_CASE("kafka store: fetch and offset-commit errors, then a restart: exactly once") {
  KafkaBackend kc;
  if (!kc.mock) return;
  QueueKey k{"B", "s1", "t"};
  std::set<std::string> first;
  {
    auto s = kc.open();
    REQUIRE(push_sync(*s, k, "warmup", "x").ok());
    kc.mock->push_request_errors(KafkaApi::kFetch, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                                    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART});
    kc.mock->push_request_errors(
        KafkaApi::kOffsetCommit,
        {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
         RD_KAFKA_RESP_ERR_NOT_COORDINATOR});
    push_many(*s, k, 300);
    // Half of them popped and acked before the restart, in two runs with a gap.
    for (int i = 0; i < 151; ++i) {
      auto [st, m] = pop_sync(*s, k, 2s);
      REQUIRE(m);
      REQUIRE(first.insert(m->message_id).second);
      s->ack(k, m->offset);
    }
  }
  auto s = kc.open();
  std::vector<std::string> rest = drain(*s, k, 500ms);
  CHECK(rest.size() == 150);
  for (const auto& id : rest) CHECK(first.insert(id).second);  // no duplicates
  CHECK(first.size() == 301);                                  // no loss
}

TEST_CASE("kafka store: two replicas of one node share the partitions") {
  KafkaBackend kc;
  KafkaQueueOptions o0 = kc.options(), o1 = kc.options();
  o0.replica_count = o1.replica_count = 2;
  o1.replica_index = 1;
  // The messages are node A's in node B's queues, a peer's pushes: taken by either replica
  // with pushes: any only (the default refuses them at the non-owner:
  // test_queue_kafka_replica_pushes.cpp).
  o0.pushes = o1.pushes = KafkaPushes::kAny;
  if (kc.mock) kc.mock->create_topic(kafka_data_topic(kc.prefix, "B"), 4, 3);
  auto r0 = KafkaBackend::open_with(o0);
  auto r1 = KafkaBackend::open_with(o1);
  // Find one session owned by each replica.
  QueueKey k0{"B", "", "t"}, k1{"B", "", "t"};
  for (int i = 0; k0.session.empty() || k1.session.empty(); ++i) {
    QueueKey k{"B", "s" + std::to_string(i), "t"};
    (kafka_partition_of(k, 4) % 2 == 0 ? k0 : k1) = k;
  }
  // Either replica accepts pushes; only the owner serves the queue.
  REQUIRE(push_sync(*r1, k0, "to0", "x").ok());
  REQUIRE(push_sync(*r0, k1, "to1", "y").ok());
  CHECK(pop_sync(*r1, k0, 100ms).first.code == Code::kUnreachable);
  auto [st0, m0] = pop_sync(*r0, k0, 3s);
  REQUIRE(m0);
  CHECK(m0->message_id == "to0");
  auto [st1, m1] = pop_sync(*r1, k1, 3s);
  REQUIRE(m1);
  CHECK(m1->message_id == "to1");
  // A session release through one replica reaches the other through the control topic.
  REQUIRE(release_sync(*r0, "B", k1.session).ok());
  Code c = Code::kOk;
  for (int i = 0; i < 100 && c != Code::kSessionReleased; ++i) {
    c = peek_sync(*r1, k1).first.code;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(c == Code::kSessionReleased);
}

}  // namespace ptp::testing

namespace ptp::testing {

TEST_CASE("kafka store: a refused push leaves no queue or session behind") {
  KafkaBackend kc;
  QueueLimits l;
  l.max_total_bytes = 8 << 10;
  auto s = KafkaBackend::open_with(kc.options(l));
  Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i)
    refused = push_sync(*s, {"B", "s1", "t"}, "m" + std::to_string(i), std::string(1024, 'x'));
  REQUIRE(refused.code == Code::kBufferFull);
  CHECK(refused.message.find("queue store is full (") != std::string::npos);
  const size_t entries = s->index_entries();
  for (int i = 0; i < 200; ++i)
    CHECK(push_sync(*s, {"B", "new-" + std::to_string(i), "topic-" + std::to_string(i)},
                    "n" + std::to_string(i), std::string(1024, 'x'))
              .code == Code::kBufferFull);
  CHECK(s->index_entries() == entries);
}

}  // namespace ptp::testing
