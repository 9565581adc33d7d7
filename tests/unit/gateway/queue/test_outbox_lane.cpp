// OutboxLane (gateway/queue/outbox_lane.h) on a real embedded store: sessions take turns, the
// forwards in flight stay within queue.outbox_concurrency, and a session whose delivery
// keeps failing does not hold up the others. Dead letters (gateway/queue/dead_letter.h): which
// answers are final, and what the sender's container gets back.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <map>

#include "gateway/config/config.h"
#include "gateway/config/config_store.h"
#include "gateway/observability/json_log.h"
#include "gateway/queue/dead_letter.h"
#include "gateway/queue/outbox.h"
#include "gateway/queue/outbox_lane.h"
#include "gateway/queue/queue_backend.h"
#include "tests/unit/queue_test_support.h"

using namespace ptp;
using namespace ptp::testing;

namespace {

ConfigPtr config(const std::string& queue) {
  std::string err;
  ConfigPtr cfg = parse_config_text(
      "node: {node_id: A, inst_id: INST_A}\nlisten: {port: 17304}\nauth: {node_keys: {A: k}}\n"
      "queue: " +
          queue + "\n",
      "t.yaml", err);
  REQUIRE_MESSAGE(cfg, err);
  return cfg;
}

}  // namespace

TEST_CASE(
    "OutboxLane: sessions take turns, concurrency is bounded, a failing session waits alone") {
  EmbeddedBackend be;
  auto store = be.open();
  for (const std::string s : {"s1", "s2", "s3"})
    for (int i = 0; i < 3; ++i)
      REQUIRE(push_sync(*store, OutboxLane::key_for("B", s), s + "-" + std::to_string(i),
                        s + ":" + std::to_string(i))
                  .ok());
  boost::asio::io_context ioc(1);
  ConfigStore cs(config("{outbox_concurrency: 2, retry_min_ms: 20, retry_max_ms: 20}"));
  JsonLog log([](std::string_view) {}, LogLevel::kError);
  std::vector<std::string> order;  // bodies in the order they were handed over
  int in_flight = 0, max_in_flight = 0, s1_attempts = 0;
  std::shared_ptr<OutboxLane> lane;
  lane = std::make_shared<OutboxLane>(
      *store, ioc.get_executor(), "B", cs, log, [&](QueuedMessage m, OutboxLane::Finish finish) {
        ++in_flight;
        max_in_flight = std::max(max_in_flight, in_flight);
        const bool full = m.env.body.starts_with("s1:");  // the target keeps answering 700
        if (full)
          ++s1_attempts;
        else
          order.push_back(m.env.body);
        boost::asio::post(ioc, [&, full, finish = std::move(finish)] {
          --in_flight;
          finish(full ? OutboxLane::Outcome::kRetry : OutboxLane::Outcome::kDelivered);
          if (order.size() == 6 && s1_attempts >= 3) {
            lane->stop();
            boost::asio::post(ioc, [&] { ioc.stop(); });
          }
        });
      });
  for (const std::string s : {"s1", "s2", "s3"}) lane->notify(s);
  ioc.run_for(std::chrono::seconds(5));
  CHECK(order == std::vector<std::string>{"s2:0", "s3:0", "s2:1", "s3:1", "s2:2", "s3:2"});
  CHECK(max_in_flight <= 2);
  CHECK(s1_attempts >= 3);
  // The failing session's messages all stay queued, in order; the others are gone.
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(50));  // nacks/acks posted by the lane
  CHECK(drain(*store, OutboxLane::key_for("B", "s1"), 0ms) ==
        std::vector<std::string>{"s1-0", "s1-1", "s1-2"});
  CHECK_FALSE(pop_sync(*store, OutboxLane::key_for("B", "s2"), 0ms).second);
}

namespace {

// The (target, session) queues of B with messages, after a restart of the store.
template <class Backend>
void check_queues_of() {
  Backend be;
  {
    auto store = be.open();
    REQUIRE(push_sync(*store, OutboxLane::key_for("B", "x"), "1", "a").ok());
    REQUIRE(push_sync(*store, OutboxLane::key_for("B", "y"), "2", "b").ok());
    REQUIRE(push_sync(*store, OutboxLane::key_for("B", "y"), "3", "c").ok());
    REQUIRE(push_sync(*store, OutboxLane::key_for("BB", "z"), "4", "d").ok());
  }
  auto store = be.open();
  std::promise<std::vector<QueueKey>> got;
  store->queues_of("B", [&](Status s, std::vector<QueueKey> k) {
    CHECK(s.ok());
    got.set_value(std::move(k));
  });
  CHECK(got.get_future().get() ==
        std::vector<QueueKey>{OutboxLane::key_for("B", "x"), OutboxLane::key_for("B", "y")});
}

}  // namespace

TEST_CASE("queues_of lists the (target, session) queues that hold messages: embedded") {
  check_queues_of<EmbeddedBackend>();
}

TEST_CASE("queues_of lists the (target, session) queues that hold messages: kafka") {
  check_queues_of<KafkaBackend>();
}

TEST_CASE("refused_for_good: final answers versus retried ones") {
  for (Code c : {Code::kBadRequest, Code::kForbidden, Code::kTooLarge, Code::kSessionReleased,
                 Code::kNotPermitted, Code::kCodecError})
    CHECK(refused_for_good(c));
  for (Code c : {Code::kBufferFull, Code::kSystemError, Code::kTimeout, Code::kUnreachable,
                 Code::kNotPeered, Code::kUnknown, Code::kOk})
    CHECK_FALSE(refused_for_good(c));
}

TEST_CASE("dead_letter_of: to this node, same session, on the dead-letter topic, why included") {
  ConfigPtr cfg = config("{dead_letter_topic: my.dead}");
  QueuedMessage m = message("s1/t/id-7", "payload");
  m.env.header.target_node_id = "B";
  m.env.header.token = "v1.secret";
  m.env.meta["message-id"] = "id-7";
  m.env.meta["k1"] = "v1";
  m.env.meta[std::string(kOutboxExpiryKey)] = "123";
  Envelope e = dead_letter_of(*cfg, m, "B", Status::Error(Code::kTooLarge, "too\r\nbig", "B"));
  CHECK(e.header.source_node_id == "A");
  CHECK(e.header.target_node_id == "A");
  CHECK(e.header.session_id == "s1");
  CHECK(e.header.token.empty());
  CHECK(e.body == "payload");
  CHECK(e.meta.at("message-topic") == "my.dead");
  CHECK(e.meta.at("message-id") == "id-7");
  CHECK(e.meta.at("k1") == "v1");
  CHECK(e.meta.at("dead-letter-topic") == "t");
  CHECK(e.meta.at("dead-letter-target") == "B");
  CHECK(e.meta.at("dead-letter-code") == "E0000000413");
  CHECK(e.meta.at("dead-letter-reason").find('\n') == std::string::npos);
  CHECK(e.meta.at("dead-letter-reason").find("big") != std::string::npos);
  CHECK_FALSE(e.meta.count(std::string(kOutboxExpiryKey)));
}

TEST_CASE("queue.outbox_concurrency and queue.dead_letter_topic: defaults and validation") {
  ConfigPtr cfg = config("{}");
  CHECK(cfg->queue.outbox_concurrency == 8);
  CHECK(cfg->queue.dead_letter_topic == "ptp.dead-letter");
  std::string err;
  for (const std::string bad :
       {"{outbox_concurrency: 0}", "{dead_letter_topic: \"a b\"}", "{dead_letter_topic: \"\"}"}) {
    CHECK_FALSE(parse_config_text(
        "node: {node_id: A, inst_id: I}\nlisten: {port: 1}\nauth: {node_keys: {A: k}}\nqueue: " +
            bad + "\n",
        "t.yaml", err));
    CHECK_MESSAGE(err.find("queue.") != std::string::npos, err);
  }
}

TEST_CASE("queue_stats_json") {
  CHECK(
      queue_stats_json({{"inbox", {1, 2, 3}}, {"outbox", {0, 0, 0}}}) ==
      R"({"inbox":{"queues":1,"messages":2,"bytes":3},"outbox":{"queues":0,"messages":0,"bytes":0}})");
}
