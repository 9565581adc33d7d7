// DedupWindow (adapters/queue/dedup_window.h): ack-order expiry, the id cap, release.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "adapters/queue/dedup_window.h"

using namespace ptp;

namespace {
struct Forgotten {
  std::vector<std::string> ids;
  void operator()(const QueueKey& k, const std::string& id) { ids.push_back(k.topic + "/" + id); }
};
}  // namespace

TEST_CASE("dedup window: expiry in ack order, only what expired") {
  DedupWindow<int64_t> w(100);
  Forgotten f;
  const QueueKey a{"B", "s", "a"}, b{"B", "s", "b"};
  w.remember(a, "1", 10, f);
  w.remember(b, "2", 20, f);
  w.remember(a, "3", 30, f);
  CHECK(w.contains(a, "1"));
  CHECK_FALSE(w.contains(b, "1"));  // per queue
  w.expire(25, f);                  // forgets what was acked before 25
  CHECK(f.ids == std::vector<std::string>{"a/1", "b/2"});
  CHECK_FALSE(w.contains(a, "1"));
  CHECK(w.contains(a, "3"));
  CHECK(w.size() == 1);
}

TEST_CASE("dedup window: the cap pushes out the oldest ids") {
  DedupWindow<int64_t> w(3);
  Forgotten f;
  const QueueKey k{"B", "s", "t"};
  for (int i = 0; i < 5; ++i) w.remember(k, std::to_string(i), i, f);
  CHECK(w.size() == 3);
  CHECK(f.ids == std::vector<std::string>{"t/0", "t/1"});
  CHECK_FALSE(w.contains(k, "1"));
  CHECK(w.contains(k, "2"));
  CHECK(w.contains(k, "4"));
  // The same id again counts once.
  w.remember(k, "4", 9, f);
  CHECK(w.size() == 3);
  CHECK(w.contains(k, "2"));
}

TEST_CASE("dedup window: a released queue's ids go at once, stale order entries are skipped") {
  DedupWindow<int64_t> w(2);
  Forgotten f;
  const QueueKey a{"B", "s1", "t"}, b{"B", "s2", "t"};
  w.remember(a, "x", 1, f);
  w.remember(b, "y", 2, f);
  w.forget_queues([&](const QueueKey& k) { return k == a; }, f);
  CHECK(f.ids == std::vector<std::string>{"t/x"});
  CHECK(w.size() == 1);
  // a's id comes back later; the stale entry of the first ack must not remove it.
  w.remember(a, "x", 3, f);
  CHECK(w.size() == 2);
  w.remember(b, "z", 4, f);  // over the cap: the oldest live id (b/y) goes
  CHECK(w.contains(a, "x"));
  CHECK_FALSE(w.contains(b, "y"));
  CHECK(w.contains(b, "z"));
}

TEST_CASE("dedup window: a cap of 0 remembers nothing") {
  DedupWindow<int64_t> w(0);
  Forgotten f;
  w.remember(QueueKey{"B", "s", "t"}, "1", 1, f);
  CHECK(w.size() == 0);
  CHECK_FALSE(w.contains(QueueKey{"B", "s", "t"}, "1"));
}
