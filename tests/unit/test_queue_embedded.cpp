// The embedded (RocksDB) QueueStore against the semantics of adapters/queue/queue_store.h.
#include <doctest/doctest.h>

#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "adapters/queue/embedded_queue_store.h"
#include "adapters/queue/queue_record.h"

using namespace ptp;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("ptp-q-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::unique_ptr<EmbeddedQueueStore> open_store(const TempDir& d, QueueLimits lim = {}) {
  EmbeddedQueueOptions o;
  o.path = d.path.string();
  o.limits = lim;
  Status err;
  auto s = EmbeddedQueueStore::open(o, err);
  REQUIRE_MESSAGE(s, err.to_string());
  return s;
}

QueuedMessage msg(std::string id, std::string body) {
  QueuedMessage m;
  m.message_id = std::move(id);
  m.env.body = std::move(body);
  m.env.header.session_id = "s";
  m.env.header.source_node_id = "A";
  m.env.meta["message-topic"] = "t";
  return m;
}

Status push(QueueStore& s, const QueueKey& k, QueuedMessage m,
            std::chrono::milliseconds wait = 0ms) {
  std::promise<Status> p;
  s.push(k, std::move(m), wait, [&](Status st) { p.set_value(st); });
  return p.get_future().get();
}

std::pair<Status, std::optional<QueuedMessage>> pop(QueueStore& s, const QueueKey& k,
                                                    std::chrono::milliseconds timeout = 0ms) {
  std::promise<std::pair<Status, std::optional<QueuedMessage>>> p;
  s.pop(k, timeout, [&](Status st, std::optional<QueuedMessage> m) { p.set_value({st, m}); });
  return p.get_future().get();
}

std::pair<Status, std::optional<QueuedMessage>> peek(QueueStore& s, const QueueKey& k) {
  std::promise<std::pair<Status, std::optional<QueuedMessage>>> p;
  s.peek(k, [&](Status st, std::optional<QueuedMessage> m) { p.set_value({st, m}); });
  return p.get_future().get();
}

Status release(QueueStore& s, const QueueKey& k, std::optional<std::string> topic) {
  std::promise<Status> p;
  s.release(k.node, k.session, topic, [&](Status st) { p.set_value(st); });
  return p.get_future().get();
}

const QueueKey kQ{"B", "s", "t"};

}  // namespace

TEST_CASE("queue record round trip keeps every field") {
  QueuedMessage m = msg("id-1", std::string("\0bin\xff", 5));
  m.env.header.trace_id = "tr";
  m.env.meta["message-code"] = "c";
  QueuedMessage back;
  REQUIRE(decode_queue_record(encode_queue_record(m), back).ok());
  CHECK(back.message_id == "id-1");
  CHECK(back.env.body == m.env.body);
  CHECK(back.env.header == m.env.header);
  CHECK(back.env.meta == m.env.meta);
  CHECK(decode_queue_record("\x05\0\0\0ab", back).code == Code::kCodecError);
}

TEST_CASE("embedded store: FIFO per queue, offsets increase, queues independent") {
  TempDir d;
  auto s = open_store(d);
  for (int i = 0; i < 5; ++i)
    REQUIRE(push(*s, kQ, msg("m" + std::to_string(i), "b" + std::to_string(i))).ok());
  REQUIRE(push(*s, {"B", "s", "other"}, msg("x", "other")).ok());
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    auto [st, m] = pop(*s, kQ);
    REQUIRE(st.ok());
    REQUIRE(m);
    CHECK(m->env.body == "b" + std::to_string(i));
    CHECK(m->offset > last);
    last = m->offset;
    s->ack(kQ, m->offset);
  }
  CHECK_FALSE(pop(*s, kQ).second);
  CHECK(pop(*s, {"B", "s", "other"}).second->env.body == "other");
}

TEST_CASE("embedded store: pop waits for a push, times out empty, cancel answers at once") {
  TempDir d;
  auto s = open_store(d);
  auto t0 = std::chrono::steady_clock::now();
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    REQUIRE(push(*s, kQ, msg("late", "late")).ok());
  });
  auto [st, m] = pop(*s, kQ, 3000ms);
  later.join();
  REQUIRE(m);
  CHECK(m->env.body == "late");
  CHECK(std::chrono::steady_clock::now() - t0 < 2000ms);

  t0 = std::chrono::steady_clock::now();
  auto [st2, none] = pop(*s, {"B", "s", "empty"}, 150ms);
  CHECK(st2.ok());
  CHECK_FALSE(none);
  CHECK(std::chrono::steady_clock::now() - t0 >= 140ms);

  std::promise<bool> got;
  uint64_t ticket =
      s->pop({"B", "s", "empty"}, 10000ms,
             [&](Status, std::optional<QueuedMessage> m) { got.set_value(m.has_value()); });
  t0 = std::chrono::steady_clock::now();
  s->cancel_pop(ticket);
  CHECK_FALSE(got.get_future().get());
  CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);
}

TEST_CASE("embedded store: leases, nack, ack, and redelivery after reopen") {
  TempDir d;
  {
    auto s = open_store(d);
    REQUIRE(push(*s, kQ, msg("1", "one")).ok());
    REQUIRE(push(*s, kQ, msg("2", "two")).ok());
    auto [st, first] = pop(*s, kQ);
    REQUIRE(first);
    CHECK(first->env.body == "one");
    // Leased: the next pop gets the second message, not the first again.
    auto [st2, second] = pop(*s, kQ);
    REQUIRE(second);
    CHECK(second->env.body == "two");
    s->nack(kQ, first->offset);
    auto [st3, again] = pop(*s, kQ);
    REQUIRE(again);
    CHECK(again->env.body == "one");
    CHECK(again->message_id == "1");
    s->ack(kQ, again->offset);
    // "two" stays leased, un-acked, when the store closes.
  }
  auto s = open_store(d);
  auto [st, m] = pop(*s, kQ);
  REQUIRE(m);
  CHECK(m->env.body == "two");
  CHECK(m->env.header.source_node_id == "A");
  CHECK(m->env.meta.at("message-topic") == "t");
  s->ack(kQ, m->offset);
  CHECK_FALSE(pop(*s, kQ).second);
}

TEST_CASE("embedded store: a message id is stored once, also after ack and reopen") {
  TempDir d;
  {
    auto s = open_store(d);
    REQUIRE(push(*s, kQ, msg("dup", "a")).ok());
    REQUIRE(push(*s, kQ, msg("dup", "a")).ok());
    auto [st, m] = pop(*s, kQ);
    REQUIRE(m);
    s->ack(kQ, m->offset);
    REQUIRE(push(*s, kQ, msg("dup", "a")).ok());  // within the dedup window
    CHECK_FALSE(pop(*s, kQ).second);
  }
  auto s = open_store(d);
  REQUIRE(push(*s, kQ, msg("dup", "a")).ok());
  CHECK_FALSE(pop(*s, kQ).second);
}

TEST_CASE("embedded store: peek neither removes nor leases") {
  TempDir d;
  auto s = open_store(d);
  CHECK_FALSE(peek(*s, kQ).second);
  REQUIRE(push(*s, kQ, msg("p", "peeked")).ok());
  CHECK(peek(*s, kQ).second->env.body == "peeked");
  CHECK(peek(*s, kQ).second->env.body == "peeked");
  CHECK(pop(*s, kQ).second->env.body == "peeked");
}

TEST_CASE("embedded store: release of a topic, of a session (608), remembered after reopen") {
  TempDir d;
  {
    auto s = open_store(d);
    REQUIRE(push(*s, {"B", "s", "keep"}, msg("k", "k")).ok());
    REQUIRE(push(*s, {"B", "s", "drop"}, msg("d", "d")).ok());
    REQUIRE(release(*s, {"B", "s", ""}, std::string("drop")).ok());
    CHECK_FALSE(pop(*s, {"B", "s", "drop"}).second);
    CHECK(peek(*s, {"B", "s", "keep"}).second->env.body == "k");
    // A waiting pop of a session being released answers 608.
    std::promise<Status> waiting;
    s->pop({"B", "s", "keep2"}, 5000ms,
           [&](Status st, std::optional<QueuedMessage>) { waiting.set_value(st); });
    std::this_thread::sleep_for(50ms);
    REQUIRE(release(*s, {"B", "s", ""}, std::nullopt).ok());
    CHECK(waiting.get_future().get().code == Code::kSessionReleased);
    CHECK(pop(*s, {"B", "s", "keep"}).first.code == Code::kSessionReleased);
    CHECK(push(*s, {"B", "s", "keep"}, msg("n", "n")).code == Code::kSessionReleased);
    CHECK(peek(*s, {"B", "s", "keep"}).first.code == Code::kSessionReleased);
    CHECK(push(*s, {"B", "other", "keep"}, msg("n", "n")).ok());
  }
  auto s = open_store(d);
  CHECK(push(*s, {"B", "s", "keep"}, msg("n2", "n")).code == Code::kSessionReleased);
  CHECK(s->stats().messages == 1);
}

TEST_CASE("embedded store: 413 oversize; 700 after waiting; a waiting push gets in on ack") {
  TempDir d;
  QueueLimits lim;
  lim.max_message_bytes = 100;
  lim.max_session_bytes = 150;
  auto s = open_store(d, lim);
  CHECK(push(*s, kQ, msg("big", std::string(101, 'x'))).code == Code::kTooLarge);
  REQUIRE(push(*s, kQ, msg("a", std::string(100, 'a'))).ok());
  auto t0 = std::chrono::steady_clock::now();
  CHECK(push(*s, kQ, msg("b", std::string(100, 'b')), 150ms).code == Code::kBufferFull);
  CHECK(std::chrono::steady_clock::now() - t0 >= 140ms);
  // Another session has room of its own.
  CHECK(push(*s, {"B", "s2", "t"}, msg("c", std::string(100, 'c'))).ok());
  std::promise<Status> blocked;
  s->push(kQ, msg("b", std::string(100, 'b')), 5000ms, [&](Status st) { blocked.set_value(st); });
  std::this_thread::sleep_for(50ms);
  auto [st, m] = pop(*s, kQ);
  REQUIRE(m);
  s->ack(kQ, m->offset);
  CHECK(blocked.get_future().get().ok());
  CHECK(pop(*s, kQ).second->env.body == std::string(100, 'b'));
}

TEST_CASE("embedded store: concurrent pushes are all stored once; stats") {
  TempDir d;
  auto s = open_store(d);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i)
        CHECK(push(*s, kQ, msg(std::to_string(t) + "-" + std::to_string(i % 25), "x")).ok());
    });
  for (auto& t : ts) t.join();
  CHECK(s->stats().messages == 100);  // 25 distinct ids per thread
  CHECK(s->stats().bytes == 100);
  CHECK(s->stats().queues == 1);
}

TEST_CASE("embedded store: a second open of the same directory is refused clearly") {
  TempDir d;
  auto s = open_store(d);
  EmbeddedQueueOptions o;
  o.path = d.path.string();
  Status err;
  CHECK_FALSE(EmbeddedQueueStore::open(o, err));
  CHECK(err.code == Code::kSystemError);
  CHECK(err.message.find("lock") != std::string::npos);
}
