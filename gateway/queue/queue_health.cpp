#include "gateway/queue/queue_health.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace ptp {

QueueHealth::QueueHealth(Metrics& metrics,
                         std::vector<std::pair<std::string, const QueueStore*>> stores) {
  auto& family = prometheus::BuildGauge()
                     .Name("ptp_queue_store_degraded")
                     .Help(
                         "1 while a queue store refuses writes (disk space low, write "
                         "errors), by store; reads are still served")
                     .Register(metrics.registry());
  for (auto& [name, store] : stores)
    if (store) stores_.emplace_back(store, &family.Add({{"store", name}}));
  metrics.on_render([this] { healthy(); });
}

bool QueueHealth::healthy() const {
  bool ok = true;
  for (auto [store, gauge] : stores_) {
    const bool degraded = !store->health().ok();
    gauge->Set(degraded ? 1 : 0);
    ok = ok && !degraded;
  }
  return ok;
}

}  // namespace ptp
