// The embedded queue store's RocksDB key layout: one kind letter, then NUL-separated
// parts. Message keys end in a big-endian offset so a queue's messages are adjacent and
// in order.
//   m node\0 session\0 topic\0 <u64 BE offset>  → queue record (queue_record.h)
//   o node\0 session\0 topic\0                  → next offset, decimal
//   d node\0 session\0 topic\0 message-id       → unix time of the ack, decimal
//   r node\0 session\0                          → unix time of the release, decimal
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/queue/queue_store.h"

namespace ptp {

using SessionKey = std::pair<std::string, std::string>;  // node, session

std::string message_key(const QueueKey& k, uint64_t offset);
std::string offset_key(const QueueKey& k);
std::string dedup_key(const QueueKey& k, const std::string& id);
std::string release_key(const SessionKey& s);

// A stored key taken apart; kind 0 when it is none of the above.
struct ParsedKey {
  char kind = 0;
  QueueKey queue;       // m, o, d
  SessionKey session;   // r
  uint64_t offset = 0;  // m
  std::string id;       // d
};
ParsedKey parse_key(std::string_view key);

}  // namespace ptp
