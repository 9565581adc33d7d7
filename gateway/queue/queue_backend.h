// Opens the QueueStore that queue.store names (embedded RocksDB or Kafka).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adapters/queue/queue_store.h"
#include "gateway/config/config.h"

namespace ptp {

class Metrics;

// `name` separates the stores of one gateway ("inbox", "outbox"): a subdirectory of
// data_dir for the embedded store; on Kafka, topic families "<prefix>.inbox.<node>" (a
// node's inbox, shared by its replicas) and "<prefix>.outbox.<self>.<target>" (one
// sending node's outbox, so gateways of different nodes never share one; replica i > 0
// of the node has its own, "<prefix>.outbox-replica<i>.<self>.<target>"); node ids there as
// kafka_node_component gives them (ids with '.' or ':' as a digest).
// On failure returns null with `error` set. With `metrics`, the embedded store's batch
// writes are timed into ptp_queue_store_write_seconds{store=name}.
std::unique_ptr<QueueStore> open_queue_store(const QueueConfig& q, const std::string& self_node,
                                             const std::string& data_dir, const std::string& name,
                                             Status& error, Metrics* metrics = nullptr);

// {"inbox":{"queues":1,"messages":2,"bytes":3},"outbox":{...}}: the admin port's GET
// /queues (docs/observability.md), e.g. for waiting until an outbox has drained.
std::string queue_stats_json(const std::vector<std::pair<std::string, QueueStats>>& stores);

}  // namespace ptp
