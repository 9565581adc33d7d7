// The queue stores as Prometheus families, read at scrape time (docs/observability.md):
// depth, bytes and oldest message age per store, redeliveries and deduplicated pushes,
// and the outbox's backlog per target node.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "adapters/queue/queue_store.h"

namespace ptp {

class Metrics;

// `stores`: name ("inbox", "outbox") and store; null stores are skipped. The store named
// "outbox" also gives ptp_outbox_*{target}. The stores outlive `metrics`' last render().
void add_queue_metrics(Metrics& metrics,
                       std::vector<std::pair<std::string, const QueueStore*>> stores);

}  // namespace ptp
