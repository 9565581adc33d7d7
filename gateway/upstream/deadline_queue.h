// Deadlines of in-flight requests without a timer per request: one FIFO per timeout
// value. With one timeout, deadlines arrive in order, so adding one is a push_back and
// the earliest of a FIFO is its front; a connection sees only a few distinct timeouts.
// Entries of requests that finished are not removed at once: they are skipped (and
// dropped) when they reach a front.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

namespace ptp {

class DeadlineQueue {
 public:
  using Clock = std::chrono::steady_clock;
  // `live(id)`: whether request `id` still waits for its answer.
  explicit DeadlineQueue(std::function<bool(int32_t)> live) : live_(std::move(live)) {}

  // Watches request `id`, due at now + timeout.
  void add(int32_t id, std::chrono::milliseconds timeout, Clock::time_point now);
  // Appends to `due` the live requests due by `now` and forgets them.
  void take_expired(Clock::time_point now, std::vector<int32_t>& due);
  // The earliest deadline of a live request, if any.
  std::optional<Clock::time_point> earliest();
  void clear() { lanes_.clear(); }
  size_t size() const;  // entries held, finished ones included

 private:
  struct Entry {
    Clock::time_point deadline;
    int32_t id;
  };
  struct Lane {
    std::chrono::milliseconds timeout;
    std::deque<Entry> entries;
  };
  void drop_finished(Lane& lane);

  std::function<bool(int32_t)> live_;
  std::vector<Lane> lanes_;
};

}  // namespace ptp
