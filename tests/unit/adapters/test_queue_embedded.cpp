// What only the embedded (RocksDB) QueueStore has; the shared semantics are in
// test_queue_conformance.cpp.
#include <rocksdb/db.h>

#include <atomic>
#include <thread>

#include "adapters/queue/embedded/embedded_queue_keys.h"
#include "adapters/queue/queue_bookkeeping.h"
#include "adapters/queue/queue_record.h"
#include "tests/unit/queue_test_support.h"

namespace ptp::testing {

TEST_CASE("queue record round trip keeps every field") {
  QueuedMessage m = message("id-1", std::string("\0bin\xff", 5));
  m.env.header.trace_id = "tr";
  m.env.meta["message-code"] = "c";
  m.env.content_type = "application/x-test";
  QueuedMessage back;
  REQUIRE(decode_queue_record(encode_queue_record(m), back).ok());
  CHECK(back.message_id == "id-1");
  CHECK(back.env.body == m.env.body);
  CHECK(back.env.header == m.env.header);
  CHECK(back.env.meta == m.env.meta);
  CHECK(back.env.content_type == "application/x-test");
  CHECK(decode_queue_record("\x05\0\0\0ab", back).code == Code::kCodecError);
}

TEST_CASE("embedded queue store: a second open of the same directory is refused clearly") {
  EmbeddedBackend backend;
  auto s = backend.open();
  EmbeddedQueueOptions o;
  o.path = backend.dir.string();
  Status err;
  CHECK_FALSE(EmbeddedQueueStore::open(o, err));
  CHECK(err.code == Code::kSystemError);
  CHECK(err.message.find("lock") != std::string::npos);
}

namespace {

std::unique_ptr<EmbeddedQueueStore> open_embedded(const EmbeddedBackend& b, uint64_t cache_bytes) {
  EmbeddedQueueOptions o;
  o.path = b.dir.string();
  o.cache_bytes = cache_bytes;
  Status err;
  auto s = EmbeddedQueueStore::open(o, err);
  REQUIRE_MESSAGE(s, err.to_string());
  return s;
}

// What the database holds now, read beside the open store: counts of keys by kind letter.
std::map<char, int> stored_kinds(const EmbeddedBackend& b) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), b.dir.string(), &raw);
  REQUIRE_MESSAGE(st.ok(), st.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  std::map<char, int> kinds;
  for (it->SeekToFirst(); it->Valid(); it->Next()) kinds[it->key()[0]] += 1;
  return kinds;
}

}  // namespace

TEST_CASE("embedded queue store: messages beyond the in-memory copy budget are read from disk") {
  EmbeddedBackend backend;
  const QueueKey k{"B", "s1", "t"};
  {
    auto s = open_embedded(backend, 25);  // room for the first two 10-byte payloads only
    for (int i = 0; i < 5; ++i)
      REQUIRE(push_sync(*s, k, "m" + std::to_string(i), "payload-" + std::to_string(i) + "!").ok());
    CHECK(peek_sync(*s, k).second->env.body == "payload-0!");
    for (int i = 0; i < 4; ++i) {
      auto [st, m] = pop_sync(*s, k, 1s);
      REQUIRE(st.ok());
      REQUIRE(m);
      CHECK(m->message_id == "m" + std::to_string(i));
      CHECK(m->env.body == "payload-" + std::to_string(i) + "!");
      CHECK(m->env.meta.at("message-topic") == "t");
      if (i < 3) s->ack(k, m->offset);
      if (i == 3) s->nack(k, m->offset);  // an uncached message goes back and is read again
    }
    CHECK(pop_sync(*s, k, 1s).second->env.body == "payload-3!");
  }
  auto s = open_embedded(backend, 0);  // nothing in memory after a restart
  // Several peeked at once are read from disk too.
  auto [st, peeked] = peek_messages_sync(*s, k, 5);
  REQUIRE(st.ok());
  REQUIRE(peeked.size() == 2);
  CHECK(peeked[0].msg.env.body == "payload-3!");
  CHECK(peeked[1].msg.message_id == "m4");
  CHECK(drain(*s, k, 200ms) == std::vector<std::string>{"m3", "m4"});
}

TEST_CASE("embedded queue store: a push released before it was durable does not come back") {
  EmbeddedBackend backend;
  const QueueKey k{"B", "s1", "t"};
  {
    auto s = backend.open();
    for (int i = 0; i < 20; ++i) {
      std::promise<Status> pushed;
      s->push(k, message("r" + std::to_string(i), "x"), 1s,
              [&](Status st) { pushed.set_value(st); });
      REQUIRE(release_sync(*s, "B", "s1", "t").ok());  // while the push may be in flight
      CHECK(pushed.get_future().get().ok());
      CHECK_FALSE(pop_sync(*s, k, 0ms).second);
      CHECK(s->stats().messages == 0);
    }
  }
  auto s = backend.open();
  CHECK_FALSE(pop_sync(*s, k, 200ms).second);
  CHECK(s->stats().messages == 0);
}

TEST_CASE("embedded queue store: a push is written when acknowledged; an ack soon, on its own") {
  EmbeddedBackend backend;
  auto s = backend.open();
  const QueueKey k{"B", "s1", "t"};
  push_many(*s, k, 2);
  CHECK(stored_kinds(backend)['m'] == 2);  // acknowledged: in the write-ahead log
  CHECK(stored_kinds(backend)['o'] == 1);
  auto [st, m] = pop_sync(*s, k, 1s);
  REQUIRE(m);
  s->ack(k, m->offset);
  // Nothing else happens: the ack still reaches the database within ack_delay (1 ms).
  std::this_thread::sleep_for(200ms);
  auto kinds = stored_kinds(backend);
  CHECK(kinds['m'] == 1);
  CHECK(kinds['d'] == 1);  // the acknowledged id, remembered for the dedup window
}

TEST_CASE("embedded queue store: redeliveries, deduplicated pushes and the backlog per node") {
  EmbeddedBackend backend;
  std::atomic<int> writes{0};
  EmbeddedQueueOptions o;
  o.path = backend.dir.string();
  o.on_write = [&](std::chrono::duration<double> took) {
    CHECK(took.count() >= 0);
    ++writes;
  };
  Status err;
  auto s = EmbeddedQueueStore::open(o, err);
  REQUIRE_MESSAGE(s, err.to_string());
  const int64_t before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  QueueKey b1{"B", "s1", "t"}, b2{"B", "s2", "t"}, c{"C", "s1", "t"};
  REQUIRE(push_sync(*s, b1, "m1", "12345").ok());
  REQUIRE(push_sync(*s, b2, "m2", "x").ok());
  REQUIRE(push_sync(*s, c, "m3", "y").ok());
  CHECK(writes.load() >= 1);
  // The same id again: acknowledged, not stored.
  REQUIRE(push_sync(*s, b1, "m1", "12345").ok());
  CHECK(s->stats().deduplicated == 1);
  CHECK(s->stats().messages == 3);
  // A leased message given back is a redelivery.
  auto [st, m] = pop_sync(*s, b1, 0ms);
  REQUIRE(m);
  s->nack(b1, m->offset);
  CHECK(s->stats().redeliveries == 1);
  std::vector<NodeBacklog> backlog = s->backlog();
  REQUIRE(backlog.size() == 2);
  CHECK(backlog[0].node == "B");
  CHECK(backlog[0].messages == 2);
  CHECK(backlog[0].bytes == queue_bookkeeping::footprint(message("m1", "12345")) +
                                queue_bookkeeping::footprint(message("m2", "x")));
  CHECK(backlog[0].oldest_ms >= before_ms);
  CHECK(backlog[1].node == "C");
  CHECK(backlog[1].messages == 1);
  CHECK(backlog[1].oldest_ms >= backlog[0].oldest_ms);
  // Delivered: gone from the backlog.
  auto [st2, m2] = pop_sync(*s, c, 0ms);
  REQUIRE(m2);
  s->ack(c, m2->offset);
  backlog = s->backlog();
  REQUIRE(backlog.size() == 1);
  CHECK(backlog[0].node == "B");
}

}  // namespace ptp::testing
