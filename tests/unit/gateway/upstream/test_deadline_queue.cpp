#include <doctest/doctest.h>

#include <set>

#include "gateway/upstream/deadline_queue.h"

using namespace ptp;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  std::set<int32_t> live;
  DeadlineQueue q{[this](int32_t id) { return live.contains(id); }};
  DeadlineQueue::Clock::time_point t0 = DeadlineQueue::Clock::now();
  void add(int32_t id, std::chrono::milliseconds timeout, std::chrono::milliseconds at) {
    live.insert(id);
    q.add(id, timeout, t0 + at);
  }
  std::vector<int32_t> expired(std::chrono::milliseconds at) {
    std::vector<int32_t> due;
    q.take_expired(t0 + at, due);
    return due;
  }
};

}  // namespace

TEST_CASE("DeadlineQueue expires live requests in deadline order, once") {
  Fixture f;
  f.add(1, 100ms, 0ms);
  f.add(3, 100ms, 5ms);
  f.add(5, 100ms, 10ms);
  CHECK(f.q.earliest() == f.t0 + 100ms);
  CHECK(f.expired(99ms).empty());
  CHECK(f.expired(105ms) == std::vector<int32_t>{1, 3});
  CHECK(f.q.earliest() == f.t0 + 110ms);
  CHECK(f.expired(105ms).empty());
  CHECK(f.expired(200ms) == std::vector<int32_t>{5});
  CHECK(!f.q.earliest());
}

TEST_CASE("DeadlineQueue skips requests that finished and drops them") {
  Fixture f;
  f.add(1, 100ms, 0ms);
  f.add(3, 100ms, 1ms);
  f.add(5, 100ms, 2ms);
  f.live.erase(1);
  f.live.erase(5);
  CHECK(f.q.earliest() == f.t0 + 101ms);  // 1's entry is dropped, 3 is the first live one
  CHECK(f.expired(500ms) == std::vector<int32_t>{3});
  CHECK(f.q.size() == 0);
}

TEST_CASE("DeadlineQueue trims answered requests as new ones arrive") {
  Fixture f;
  for (int32_t id = 1; id < 1000; id += 2) {
    f.add(id, 30000ms, std::chrono::milliseconds(id));
    f.live.erase(id);  // answered before the next request
  }
  CHECK(f.q.size() == 1);  // only the last one, not one entry per request
}

TEST_CASE("DeadlineQueue keeps one order per timeout value") {
  Fixture f;
  f.add(1, 1000ms, 0ms);
  f.add(3, 50ms, 10ms);  // later request, shorter timeout: due first
  CHECK(f.q.earliest() == f.t0 + 60ms);
  CHECK(f.expired(60ms) == std::vector<int32_t>{3});
  CHECK(f.q.earliest() == f.t0 + 1000ms);
  CHECK(f.expired(1000ms) == std::vector<int32_t>{1});
}
