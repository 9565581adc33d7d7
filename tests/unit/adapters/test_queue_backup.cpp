// Backups of the embedded queue store (adapters/queue/embedded/embedded_queue_backup.h):
// taken from an open store while it is used, read, copied into place, reopened.
#include <fstream>

#include "adapters/queue/embedded/embedded_queue_backup.h"
#include "tests/unit/queue_test_support.h"

namespace ptp::testing {

TEST_CASE("embedded backup: acknowledged pushes in, popped-and-acked out, a copy reopens") {
  EmbeddedBackend live, backup_parent, restored_parent;
  std::filesystem::create_directories(backup_parent.dir);
  const QueueKey a{"A", "s1", "t1"}, b{"A", "s1", "t2"};
  const std::string backup = (backup_parent.dir / "inbox").string();
  const std::string restored = (restored_parent.dir / "inbox").string();
  {
    auto s = live.open();
    for (int i = 0; i < 5; ++i) REQUIRE(push_sync(*s, a, "a" + std::to_string(i), "pa").ok());
    REQUIRE(push_sync(*s, b, "b0", "pb").ok());
    // Popped and acked just before the backup: the ack waits for ack_delay, the backup
    // writes it first.
    auto [st, m] = pop_sync(*s, a, 1s);
    REQUIRE(m);
    s->ack(a, m->offset);
    REQUIRE(s->backup(backup).ok());
    // The store goes on serving; later pushes are not in the backup.
    REQUIRE(push_sync(*s, b, "b1", "pb").ok());
    // A backup never lands in an existing directory.
    CHECK_FALSE(s->backup(backup).ok());
  }
  StoreContents c;
  REQUIRE(read_store_contents(backup, c).ok());
  CHECK(c.messages == 5);
  CHECK(c.acked_ids == 1);
  REQUIRE(c.queues.size() == 2);
  CHECK(c.queues[0].key == a);
  CHECK(c.queues[0].messages == 4);
  CHECK(c.queues[0].first_offset == 2);
  CHECK(c.queues[0].last_offset == 5);
  CHECK(c.queues[1].key == b);
  CHECK(c.queues[1].messages == 1);

  // Restore refuses a directory with something in it, and leaves it alone.
  std::filesystem::create_directories(restored);
  std::ofstream(restored + "/keep") << "x";
  StoreContents copied;
  Status refused = copy_store(backup, restored, copied);
  CHECK(refused.code == Code::kBadRequest);
  CHECK(refused.message.find("not empty") != std::string::npos);
  std::filesystem::remove_all(restored);
  REQUIRE(copy_store(backup, restored, copied).ok());
  CHECK(copied.messages == 5);

  EmbeddedQueueOptions o;
  o.path = restored;
  Status err;
  auto s = EmbeddedQueueStore::open(o, err);
  REQUIRE_MESSAGE(s, err.to_string());
  for (int i = 1; i < 5; ++i) {
    auto [st, m] = pop_sync(*s, a, 1s);
    REQUIRE(m);
    CHECK(m->message_id == "a" + std::to_string(i));
    s->ack(a, m->offset);
  }
  CHECK_FALSE(pop_sync(*s, a, 10ms).second);
  auto [st, m] = pop_sync(*s, b, 1s);
  REQUIRE(m);
  CHECK(m->message_id == "b0");
  s->ack(b, m->offset);
  CHECK_FALSE(pop_sync(*s, b, 10ms).second);
  // The dedup window came along: a retried push of a0 is not stored again.
  REQUIRE(push_sync(*s, a, "a0", "pa").ok());
  CHECK_FALSE(pop_sync(*s, a, 10ms).second);
}

TEST_CASE("embedded backup: reading something that is no store names it") {
  EmbeddedBackend none;
  StoreContents c;
  Status st = read_store_contents(none.dir.string(), c);
  CHECK(st.code == Code::kSystemError);
  CHECK(st.message.find(none.dir.string()) != std::string::npos);
}

}  // namespace ptp::testing
