// Shared by the tests of the stores' shares per node (QueueLimits::max_source_bytes, the
// inbox's, and max_target_bytes, the outbox's): pushes from a source or towards a target
// until a refusal, and the limits the inbox and the outbox run with, shrunk to test sizes.
#pragma once

#include "tests/unit/queue_test_support.h"

namespace ptp::testing {

inline bool has(const Status& st, const std::string& text) {
  return st.message.find(text) != std::string::npos;
}

// A 1 KiB push of node `source` into `k`.
inline Status push_from(QueueStore& s, const QueueKey& k, const std::string& source,
                        const std::string& id) {
  QueuedMessage m = message(source + "/" + id, std::string(1024, 'x'));
  m.env.header.source_node_id = source;
  m.env.header.session_id = k.session;
  std::promise<Status> p;
  s.push(k, std::move(m), 0ms, [&](Status st) { p.set_value(st); });
  return p.get_future().get();
}

// How many 1 KiB messages `source` stores in sessions of node A (over 4 sessions, each under
// its own limit) before a refusal, which goes to `refused`; at most `most`.
inline int fill_from(QueueStore& s, const std::string& source, Status& refused, int most = 200) {
  for (int i = 0; i < most; ++i) {
    refused =
        push_from(s, {"A", source + "-" + std::to_string(i % 4), "t"}, source, std::to_string(i));
    if (!refused.ok()) return i;
  }
  return most;
}

// How many 1 KiB messages wait for `target` (over 4 sessions) before a refusal.
inline int fill_towards(QueueStore& s, const std::string& target, Status& refused, int most = 200) {
  for (int i = 0; i < most; ++i) {
    refused = push_sync(s, {target, "s-" + std::to_string(i % 4), ""}, target + std::to_string(i),
                        std::string(1024, 'x'));
    if (!refused.ok()) return i;
  }
  return most;
}

// Like the inbox's (queue_backend.cpp): a share per source, none per target; 64 KiB in all.
inline QueueLimits inbox_limits() {
  QueueLimits l;
  l.max_total_bytes = 64 << 10;
  l.max_source_bytes = 16 << 10;
  l.max_target_bytes = 0;
  return l;
}

// Like the outbox's: a share per target, none per source.
inline QueueLimits outbox_limits() {
  QueueLimits l;
  l.max_total_bytes = 64 << 10;
  l.max_source_bytes = 0;
  l.max_target_bytes = 16 << 10;
  return l;
}

}  // namespace ptp::testing
