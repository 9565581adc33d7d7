#include "gateway/upstream/deadline_queue.h"

#include <algorithm>

namespace ptp {

void DeadlineQueue::drop_finished(Lane& lane) {
  while (!lane.entries.empty() && !live_(lane.entries.front().id)) lane.entries.pop_front();
}

void DeadlineQueue::add(int32_t id, std::chrono::milliseconds timeout, Clock::time_point now) {
  auto lane = std::find_if(lanes_.begin(), lanes_.end(),
                           [&](const Lane& l) { return l.timeout == timeout; });
  if (lane == lanes_.end()) lane = lanes_.insert(lanes_.end(), Lane{timeout, {}});
  // Answers mostly come in request order: trimming here keeps a lane about as long as
  // the number of requests in flight.
  drop_finished(*lane);
  lane->entries.push_back({now + timeout, id});
}

void DeadlineQueue::take_expired(Clock::time_point now, std::vector<int32_t>& due) {
  for (auto& lane : lanes_) {
    while (!lane.entries.empty() && lane.entries.front().deadline <= now) {
      int32_t id = lane.entries.front().id;
      lane.entries.pop_front();
      if (live_(id)) due.push_back(id);
    }
  }
}

std::optional<DeadlineQueue::Clock::time_point> DeadlineQueue::earliest() {
  std::optional<Clock::time_point> best;
  for (auto& lane : lanes_) {
    drop_finished(lane);
    if (!lane.entries.empty() && (!best || lane.entries.front().deadline < *best))
      best = lane.entries.front().deadline;
  }
  return best;
}

size_t DeadlineQueue::size() const {
  size_t n = 0;
  for (const auto& lane : lanes_) n += lane.entries.size();
  return n;
}

}  // namespace ptp
