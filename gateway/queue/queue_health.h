// Whether the queue stores can take writes (QueueStore::health), for /readyz and the
// ptp_queue_store_degraded{store} gauge (1 while a store refuses writes: disk low or
// full, write errors; docs/queues.md "Durability").
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "adapters/queue/queue_store.h"
#include "gateway/observability/metrics.h"

namespace prometheus {
class Gauge;
}

namespace ptp {

class QueueHealth {
 public:
  // `stores`: name ("inbox", "outbox") and store; null stores are skipped. The stores
  // and metrics outlive this object.
  QueueHealth(Metrics& metrics, std::vector<std::pair<std::string, const QueueStore*>> stores);

  // True when every store can write; updates the gauges.
  bool healthy() const;

 private:
  std::vector<std::pair<const QueueStore*, prometheus::Gauge*>> stores_;
};

}  // namespace ptp
