// Backups of the embedded queue store (docs/operations.md, "Backup and restore"): a backup
// is a RocksDB checkpoint of a running store (EmbeddedQueueStore::backup), itself a store
// directory a gateway can open; these functions read one and copy one into place offline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adapters/queue/queue_store.h"
#include "codecs/status.h"

namespace ptp {

struct StoredQueue {
  QueueKey key;
  uint64_t messages = 0;
  uint64_t first_offset = 0, last_offset = 0;
};

// What a store directory holds, read with the store closed (or from a backup).
struct StoreContents {
  uint64_t messages = 0;            // stored messages (acknowledged pushes not yet acked by a pop)
  uint64_t payload_bytes = 0;       // bytes of their stored records
  uint64_t acked_ids = 0;           // message ids in the dedup window
  uint64_t released_sessions = 0;   // sessions that answer 608
  uint64_t sequence = 0;            // RocksDB's last sequence number
  std::vector<StoredQueue> queues;  // every queue holding messages, in key order
};

// Opens the store directory read-only (the store may be open elsewhere) and counts what it
// holds. E0000000500 naming the directory when it is no readable store.
Status read_store_contents(const std::string& dir, StoreContents& out);

// Copies the store directory `from` (a backup) into `to`, which must not exist or be an
// empty directory (E0000000400 otherwise); every file is synced, then `to` is read back
// and must hold what `from` holds.
Status copy_store(const std::string& from, const std::string& to, StoreContents& copied);

// "ok" when `dir` does not exist or is an empty directory, else why not.
Status empty_or_missing(const std::string& dir);

}  // namespace ptp
