#include "gateway/queue/queue_metrics.h"

#include <algorithm>
#include <chrono>

#include "gateway/observability/metrics.h"
#include "gateway/observability/scrape_family.h"

namespace ptp {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

double age_seconds(int64_t oldest_ms, int64_t now_ms) {
  return oldest_ms <= 0 ? 0.0 : static_cast<double>(std::max<int64_t>(0, now_ms - oldest_ms)) / 1e3;
}

}  // namespace

void add_queue_metrics(Metrics& metrics,
                       std::vector<std::pair<std::string, const QueueStore*>> stores) {
  std::erase_if(stores, [](const auto& s) { return s.second == nullptr; });
  if (stores.empty()) return;
  metrics.add_collector([stores = std::move(stores)](std::vector<MetricFamily>& out) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    auto depth = scrape::family("ptp_queue_messages",
                                "Messages stored in a queue store (including leased ones), by "
                                "store",
                                MetricType::Gauge);
    auto bytes = scrape::family(
        "ptp_queue_bytes", "Footprint bytes of the messages stored, by store", MetricType::Gauge);
    auto age = scrape::family("ptp_queue_oldest_message_age_seconds",
                              "Age of the oldest message stored (0 when empty), by store",
                              MetricType::Gauge);
    auto redeliveries = scrape::family(
        "ptp_queue_redeliveries_total",
        "Leased messages put back to be handed out again (popping client gone, delivery "
        "retried), by store",
        MetricType::Counter);
    auto dedup = scrape::family(
        "ptp_queue_deduplicated_total",
        "Pushes acknowledged without being stored again (message id already queued or "
        "recently acknowledged), by store",
        MetricType::Counter);
    auto target_depth = scrape::family(
        "ptp_outbox_messages",
        "Messages waiting in the outbox for a target node (targets with messages only)",
        MetricType::Gauge);
    auto target_bytes =
        scrape::family("ptp_outbox_bytes", "Footprint bytes waiting in the outbox, by target node",
                       MetricType::Gauge);
    auto target_age = scrape::family(
        "ptp_outbox_oldest_message_age_seconds",
        "Age of the oldest message waiting in the outbox, by target node", MetricType::Gauge);
    bool outbox = false;
    for (const auto& [name, store] : stores) {
      const QueueStats st = store->stats();
      const std::vector<NodeBacklog> backlog = store->backlog();
      int64_t oldest = 0;
      for (const NodeBacklog& b : backlog)
        if (b.oldest_ms > 0 && (oldest == 0 || b.oldest_ms < oldest)) oldest = b.oldest_ms;
      scrape::sample(depth, {{"store", name}}, static_cast<double>(st.messages));
      scrape::sample(bytes, {{"store", name}}, static_cast<double>(st.bytes));
      scrape::sample(age, {{"store", name}}, age_seconds(oldest, now_ms));
      scrape::sample(redeliveries, {{"store", name}}, static_cast<double>(st.redeliveries));
      scrape::sample(dedup, {{"store", name}}, static_cast<double>(st.deduplicated));
      if (name != "outbox") continue;
      outbox = true;
      for (const NodeBacklog& b : backlog) {
        scrape::sample(target_depth, {{"target", b.node}}, static_cast<double>(b.messages));
        scrape::sample(target_bytes, {{"target", b.node}}, static_cast<double>(b.bytes));
        scrape::sample(target_age, {{"target", b.node}}, age_seconds(b.oldest_ms, now_ms));
      }
    }
    for (auto* f : {&depth, &bytes, &age, &redeliveries, &dedup}) out.push_back(std::move(*f));
    if (outbox)
      for (auto* f : {&target_depth, &target_bytes, &target_age}) out.push_back(std::move(*f));
  });
}

}  // namespace ptp
