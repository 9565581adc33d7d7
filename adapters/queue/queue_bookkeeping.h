// What both queue stores keep per session and per waiting call (docs/queues.md: limits,
// blocking pop, push waiting for space).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "adapters/queue/queue_store.h"

namespace ptp::queue_bookkeeping {

using Clock = std::chrono::steady_clock;

// Wall-clock seconds since the epoch (release and dedup times kept across restarts).
inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What a queued message is charged against the limits: payload, message id, header
// fields and metadata, plus kMessageOverheadBytes for what the store keeps besides (index
// entries, keys, record framing; docs/queues.md), so empty messages fill a queue too.
inline constexpr uint64_t kMessageOverheadBytes = 512;
inline uint64_t footprint(const QueuedMessage& m) {
  uint64_t n =
      kMessageOverheadBytes + m.env.body.size() + m.message_id.size() + m.env.content_type.size();
  const PtpHeader& h = m.env.header;
  for (const std::string* f :
       {&h.version, &h.tech_provider_code, &h.trace_id, &h.token, &h.uri, &h.session_id,
        &h.source_node_id, &h.target_node_id, &h.source_inst_id, &h.target_inst_id})
    n += f->size();
  for (const auto& [k, v] : m.env.meta) n += k.size() + v.size();
  return n;
}

// Queued bytes (footprints) and messages of one session (counted against
// max_session_bytes and max_session_messages) and when it was last used (idle expiry).
struct Session {
  uint64_t bytes = 0;
  uint64_t messages = 0;
  Clock::time_point touched = Clock::now();
};

// The node whose share (QueueLimits::max_source_bytes) a message of `key` counts against:
// its source when that is another node than the queue's (a peer's push into this node's
// inbox), else "" (not counted). Its target's share is the queue's node's (key.node).
inline std::string counted_source(const QueueKey& key, const QueuedMessage& m) {
  const std::string& src = m.env.header.source_node_id;
  return src == key.node ? std::string() : src;
}

// Queued bytes (footprints) per node, counted against a share of the store per node
// (QueueLimits::max_source_bytes by source, max_target_bytes by target); a node that holds
// nothing has no entry, so the map stays as small as the set of nodes with messages.
class NodeBytes {
 public:
  uint64_t of(const std::string& node) const {
    auto it = bytes_.find(node);
    return it == bytes_.end() ? 0 : it->second;
  }
  void add(const std::string& node, uint64_t n) { bytes_[node] += n; }
  void remove(const std::string& node, uint64_t n) {
    auto it = bytes_.find(node);
    if (it == bytes_.end()) return;
    it->second -= std::min(it->second, n);
    if (it->second == 0) bytes_.erase(it);
  }

 private:
  std::map<std::string, uint64_t> bytes_;
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
