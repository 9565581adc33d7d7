// The Kafka queue store against librdkafka's mock cluster (or the broker named by
// PTP_TEST_KAFKA_BOOTSTRAP): record layout, offset tracking, store semantics across
// restarts, and broker errors injected through the mock cluster API.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <future>
#include <random>
#include <set>

#include "adapters/kafka/mock_cluster.h"
#include "adapters/queue/kafka_offset_tracker.h"
#include "adapters/queue/kafka_queue_store.h"
#include "adapters/queue/kafka_record.h"

namespace ptp {
namespace {

using namespace std::chrono_literals;

// A Kafka to test against: a fresh 3-broker mock cluster, or the external broker of
// PTP_TEST_KAFKA_BOOTSTRAP; either way with a topic prefix unique to this run.
struct KafkaTestCluster {
  std::unique_ptr<MockCluster> mock;
  std::string bootstrap;
  std::string prefix;

  KafkaTestCluster() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    prefix = "ptptest." + std::to_string(rd() % 1000000) + "." + std::to_string(++counter);
    if (const char* ext = std::getenv("PTP_TEST_KAFKA_BOOTSTRAP"); ext && *ext) {
      bootstrap = ext;
      return;
    }
    std::string err;
    mock = MockCluster::start(3, err);
    REQUIRE_MESSAGE(mock, err);
    bootstrap = mock->bootstrap();
  }

  KafkaQueueOptions options(QueueLimits limits = {}) const {
    KafkaQueueOptions o;
    o.bootstrap_servers = bootstrap;
    o.topic_prefix = prefix;
    o.create_topics = !mock;  // the mock broker auto-creates topics instead
    o.replication_factor = 1;
    o.partitions = 4;
    o.limits = limits;
    o.commit_interval = 50ms;
    o.attach_timeout = 20s;
    o.producer_config = {{"linger.ms", "1"}};
    o.consumer_config = {{"fetch.wait.max.ms", "10"}, {"fetch.error.backoff.ms", "50"}};
    if (const char* d = std::getenv("PTP_KAFKA_DEBUG_RDKAFKA"))
      o.consumer_config.insert({{"debug", d}, {"log_level", "7"}});
    return o;
  }

  std::unique_ptr<KafkaQueueStore> open(QueueLimits limits = {}) const {
    return open_with(options(limits));
  }
  static std::unique_ptr<KafkaQueueStore> open_with(const KafkaQueueOptions& o) {
    Status st;
    auto s = KafkaQueueStore::open(o, st);
    REQUIRE_MESSAGE(s, st.to_string());
    return s;
  }
};

QueuedMessage message(const std::string& id, const std::string& body) {
  QueuedMessage m;
  m.message_id = id;
  m.env.body = body;
  m.env.header.session_id = "s1";
  m.env.meta["message-topic"] = "t";
  return m;
}

Status push_sync(QueueStore& s, const QueueKey& k, const std::string& id, const std::string& body,
                 std::chrono::milliseconds wait = 0ms) {
  std::promise<Status> p;
  s.push(k, message(id, body), wait, [&](Status st) { p.set_value(st); });
  return p.get_future().get();
}

std::pair<Status, std::optional<QueuedMessage>> pop_sync(QueueStore& s, const QueueKey& k,
                                                         std::chrono::milliseconds timeout) {
  std::promise<std::pair<Status, std::optional<QueuedMessage>>> p;
  s.pop(k, timeout, [&](Status st, std::optional<QueuedMessage> m) {
    p.set_value({st, std::move(m)});
  });
  return p.get_future().get();
}

std::pair<Status, std::optional<QueuedMessage>> peek_sync(QueueStore& s, const QueueKey& k) {
  std::promise<std::pair<Status, std::optional<QueuedMessage>>> p;
  s.peek(k, [&](Status st, std::optional<QueuedMessage> m) { p.set_value({st, std::move(m)}); });
  return p.get_future().get();
}

Status release_sync(QueueStore& s, const std::string& node, const std::string& session,
                    std::optional<std::string> topic = std::nullopt) {
  std::promise<Status> p;
  s.release(node, session, std::move(topic), [&](Status st) { p.set_value(st); });
  return p.get_future().get();
}

// Pushes n messages "m<i>" concurrently (all in flight at once); every push must succeed.
void push_many(QueueStore& s, const QueueKey& k, int n, const std::string& tag = "m") {
  std::vector<std::promise<Status>> ps(n);
  for (int i = 0; i < n; ++i)
    s.push(k, message(tag + std::to_string(i), "payload " + std::to_string(i)), 5s,
           [&ps, i](Status st) { ps[i].set_value(st); });
  for (auto& p : ps) {
    Status st = p.get_future().get();
    REQUIRE_MESSAGE(st.ok(), st.to_string());
  }
}

// Pops (and acks) until a pop times out; returns the ids in order. The first pop waits
// longer: after a (re)start the store first reads the node's partitions to their end.
std::vector<std::string> drain(QueueStore& s, const QueueKey& k,
                               std::chrono::milliseconds timeout = 1000ms) {
  std::vector<std::string> ids;
  while (true) {
    auto [st, m] =
        pop_sync(s, k, ids.empty() ? std::max<std::chrono::milliseconds>(timeout, 3s) : timeout);
    REQUIRE(st.ok());
    if (!m) return ids;
    ids.push_back(m->message_id);
    s.ack(k, m->offset);
  }
}

}  // namespace

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

TEST_CASE("kafka store: FIFO push/pop/ack, peek, leases, dedup") {
  KafkaTestCluster kc;
  auto s = kc.open();
  QueueKey k{"B", "s1", "t"};
  push_many(*s, k, 20);
  // A retried push of a stored id is acknowledged without a second copy.
  REQUIRE(push_sync(*s, k, "m3", "again").ok());
  auto [pst, head] = peek_sync(*s, k);
  REQUIRE(pst.ok());
  REQUIRE(head);
  CHECK(head->message_id == "m0");
  CHECK(head->env.body == "payload 0");
  CHECK(head->env.meta.at("message-topic") == "t");
  CHECK(s->stats().messages == 20);

  auto [st, m] = pop_sync(*s, k, 1s);
  REQUIRE(m);
  CHECK(m->message_id == "m0");
  // Leased: the next pop gets m1; a nack puts m0 back at the head.
  auto [st1, m1] = pop_sync(*s, k, 1s);
  REQUIRE(m1);
  CHECK(m1->message_id == "m1");
  CHECK(m1->offset > m->offset);
  s->nack(k, m->offset);
  s->ack(k, m1->offset);
  std::vector<std::string> ids = drain(*s, k, 300ms);
  REQUIRE(ids.size() == 19);
  CHECK(ids.front() == "m0");
  for (int i = 2; i < 20; ++i) CHECK(ids[i - 1] == "m" + std::to_string(i));
  // Acked ids stay in the dedup window.
  REQUIRE(push_sync(*s, k, "m5", "late retry").ok());
  CHECK(pop_sync(*s, k, 200ms).second == std::nullopt);
  CHECK(s->stats().messages == 0);
  // A pop waiting on an empty queue is answered by a later push.
  std::promise<std::string> got;
  s->pop(k, 5s,
         [&](Status, std::optional<QueuedMessage> q) { got.set_value(q ? q->message_id : ""); });
  REQUIRE(push_sync(*s, k, "late", "x").ok());
  CHECK(got.get_future().get() == "late");
  // cancel_pop answers a waiting pop at once.
  std::promise<bool> cancelled;
  uint64_t t = s->pop({"B", "s1", "other"}, 10s, [&](Status st2, std::optional<QueuedMessage> q) {
    cancelled.set_value(st2.ok() && !q);
  });
  s->cancel_pop(t);
  CHECK(cancelled.get_future().get());
}

TEST_CASE("kafka store: restart redelivers un-acked messages and skips acked ones") {
  KafkaTestCluster kc;
  QueueKey k{"B", "s1", "t"};
  std::set<std::string> acked;
  {
    auto s = kc.open();
    push_many(*s, k, 40);
    // Ack every other message (not a contiguous prefix), lease one and never ack it.
    std::vector<QueuedMessage> got;
    for (int i = 0; i < 40; ++i) {
      auto [st, m] = pop_sync(*s, k, 2s);
      REQUIRE(m);
      got.push_back(*m);
    }
    for (const auto& m : got)
      if (std::stoi(m.message_id.substr(1)) % 2 == 1) {
        s->ack(k, m.offset);
        acked.insert(m.message_id);
      }
  }
  auto s = kc.open();
  std::vector<std::string> ids = drain(*s, k, 500ms);
  CHECK(ids.size() == 20);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(ids[i] == "m" + std::to_string(2 * i));
  s.reset();
  // Everything acked now: a third start finds nothing.
  auto again = kc.open();
  CHECK(pop_sync(*again, k, 300ms).second == std::nullopt);
}

TEST_CASE("kafka store: release answers 608, also after a restart; topic release") {
  KafkaTestCluster kc;
  QueueKey k{"B", "s1", "t"}, k2{"B", "s1", "u"}, other{"B", "s2", "t"};
  {
    auto s = kc.open();
    push_many(*s, k, 3);
    push_many(*s, k2, 3);
    push_many(*s, other, 2);
    REQUIRE(release_sync(*s, "B", "s1", "u").ok());
    CHECK(pop_sync(*s, k2, 100ms).second == std::nullopt);
    REQUIRE(push_sync(*s, k2, "after", "x").ok());  // the session itself lives on
    CHECK(pop_sync(*s, k2, 1s).second->message_id == "after");
    REQUIRE(release_sync(*s, "B", "s1").ok());
    CHECK(push_sync(*s, k, "x", "y").code == Code::kSessionReleased);
    CHECK(pop_sync(*s, k, 100ms).first.code == Code::kSessionReleased);
    CHECK(peek_sync(*s, k).first.code == Code::kSessionReleased);
  }
  auto s = kc.open();
  CHECK(pop_sync(*s, k, 100ms).first.code == Code::kSessionReleased);
  CHECK(push_sync(*s, k2, "z", "y").code == Code::kSessionReleased);
  CHECK(drain(*s, other, 500ms).size() == 2);
}

TEST_CASE("kafka store: message, session and total limits") {
  KafkaTestCluster kc;
  QueueLimits lim;
  lim.max_message_bytes = 100;
  lim.max_session_bytes = 250;
  lim.max_total_bytes = 400;
  auto s = kc.open(lim);
  QueueKey k{"B", "s1", "t"};
  CHECK(push_sync(*s, k, "big", std::string(101, 'x')).code == Code::kTooLarge);
  REQUIRE(push_sync(*s, k, "a", std::string(100, 'a')).ok());
  REQUIRE(push_sync(*s, k, "b", std::string(100, 'b')).ok());
  CHECK(push_sync(*s, k, "c", std::string(100, 'c'), 50ms).code == Code::kBufferFull);
  // Another session still has room until the total is reached.
  QueueKey k2{"B", "s2", "t"};
  REQUIRE(push_sync(*s, k2, "d", std::string(100, 'd')).ok());
  CHECK(push_sync(*s, k2, "e", std::string(150, 'e')).code == Code::kTooLarge);
  REQUIRE(push_sync(*s, k2, "f", std::string(100, 'f')).ok());
  CHECK(push_sync(*s, k2, "g", std::string(10, 'g')).code == Code::kBufferFull);
  // A waiting push proceeds once a pop+ack frees room.
  std::promise<Status> waiting;
  s->push(k, message("c", std::string(100, 'c')), 5s, [&](Status st) { waiting.set_value(st); });
  auto [st, m] = pop_sync(*s, k, 1s);
  REQUIRE(m);
  s->ack(k, m->offset);
  CHECK(waiting.get_future().get().ok());
}

TEST_CASE("kafka store: produce errors injected by the broker lose and duplicate nothing") {
  KafkaTestCluster kc;
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
  KafkaTestCluster kc;
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
  KafkaTestCluster kc;
  KafkaQueueOptions o0 = kc.options(), o1 = kc.options();
  o0.replica_count = o1.replica_count = 2;
  o1.replica_index = 1;
  if (kc.mock) kc.mock->create_topic(kafka_data_topic(kc.prefix, "B"), 4, 3);
  auto r0 = KafkaTestCluster::open_with(o0);
  auto r1 = KafkaTestCluster::open_with(o1);
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

}  // namespace ptp
