// What both queue stores keep per session and per waiting call (docs/queues.md: limits,
// blocking pop, push waiting for space).
#pragma once

#include <chrono>
#include <cstdint>

#include "adapters/queue/queue_store.h"

namespace ptp::queue_bookkeeping {

using Clock = std::chrono::steady_clock;

// Wall-clock seconds since the epoch (release and dedup times kept across restarts).
inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Queued payload bytes of one session (counted against max_session_bytes) and when it
// was last used (idle-session expiry).
struct Session {
  uint64_t bytes = 0;
  Clock::time_point touched = Clock::now();
};

// A pop waiting for a message until its deadline.
struct Waiter {
  QueueKey key;
  Clock::time_point deadline;
  QueueStore::MessageDone done;
};

// A push waiting for space (E0000000700 once its deadline passes).
struct Blocked {
  QueueKey key;
  QueuedMessage msg;
  Clock::time_point deadline;
  QueueStore::Done done;
};

}  // namespace ptp::queue_bookkeeping
