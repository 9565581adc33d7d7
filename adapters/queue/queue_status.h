// The PTP answers both queue stores give for a bad key, a released session, a message over
// the size limit and a full queue (docs/queues.md: limits), worded the same by both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/queue/queue_bookkeeping.h"
#include "adapters/queue/queue_store.h"
#include "codecs/status.h"

namespace ptp::queue_status {

// Whether `s` holds a NUL byte (store keys use NUL as their separator).
bool has_nul(std::string_view s);
// E0000000400 when node or session is empty or a part holds a NUL byte, else OK.
Status check_key(const QueueKey& k);
// E0000000608: the session was released.
Status released(const std::string& session);
// E0000000413 when a payload of `bytes` exceeds max_message_bytes, else OK.
Status check_size(uint64_t bytes, const QueueLimits& limits);
// Whether one more message charged `charge` bytes (queue_bookkeeping::footprint) fits the
// session's bytes and message count and the store's bytes.
bool fits(uint64_t session_bytes, uint64_t session_messages, uint64_t total_bytes, uint64_t charge,
          const QueueLimits& limits);
// Whether one more message charged `charge` bytes fits a node's share of the store
// (`limit`: max_source_bytes or max_target_bytes; 0: no share) when that node's messages
// hold `held` bytes.
bool share_fits(uint64_t held, uint64_t charge, uint64_t limit);
// E0000000700: the messages of node `source` (sent by it) hold its share of the store.
Status source_full(const std::string& source, uint64_t source_bytes, uint64_t charge,
                   const QueueLimits& limits);
// E0000000700: the messages waiting for node `target` hold its share of the store.
Status target_full(const std::string& target, uint64_t target_bytes, uint64_t charge,
                   const QueueLimits& limits);
// E0000000700 naming the limit that refuses one more message charged `charge` bytes (call
// when fits() is false), with its numbers: the session's message count, else the session's
// bytes when the message does not fit them, else the store's bytes.
Status full(const std::string& session, uint64_t session_bytes, uint64_t session_messages,
            uint64_t total_bytes, uint64_t charge, const QueueLimits& limits);

// Whether one more message charged `charge` bytes for queue `k` has room, as both stores
// check it: OK when it fits its session (`session`), the store (`total_bytes`), the share of
// its source node `source` (queue_bookkeeping::counted_source; "" for none) among the bytes
// held per source (`sources`) and the share of its target, the queue's node, among those
// per target (`targets`); else E0000000700 naming the first of these limits it reaches
// (full, source_full, target_full).
Status room(const QueueKey& k, const std::string& source, uint64_t charge,
            const queue_bookkeeping::Session& session, uint64_t total_bytes,
            const queue_bookkeeping::NodeBytes& sources,
            const queue_bookkeeping::NodeBytes& targets, const QueueLimits& limits);

}  // namespace ptp::queue_status
