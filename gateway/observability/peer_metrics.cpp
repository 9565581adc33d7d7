#include "gateway/observability/peer_metrics.h"

#include <array>
#include <chrono>

#include "gateway/config/config_store.h"
#include "gateway/observability/metrics.h"
#include "gateway/observability/scrape_family.h"

namespace ptp {
namespace {

// The states a peer of the running config is in: from the config file (static), or a
// dynamic peer's (docs/peering.md), where an active one past its expiry is "expired".
constexpr std::array<const char*, 5> kStates = {"static", "pending", "active", "disabled",
                                                "expired"};

size_t state_of(const DynamicPeerState* d, int64_t now) {
  if (!d) return 0;
  if (d->expires_at > 0 && d->expires_at <= now) return 4;
  switch (d->state) {
    case PeerState::kPending:
      return 1;
    case PeerState::kActive:
      return 2;
    case PeerState::kDisabled:
      return 3;
  }
  return 2;
}

}  // namespace

void add_peer_metrics(Metrics& metrics, const ConfigStore& config) {
  metrics.add_collector([&config](std::vector<prometheus::MetricFamily>& out) {
    const ConfigPtr cfg = config.current();
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::array<double, kStates.size()> count{};
    auto expiry = scrape::family("ptp_peer_expiry_timestamp_seconds",
                                 "Unix time a dynamic peer's record expires, by peer (peers "
                                 "with an expiry only)",
                                 prometheus::MetricType::Gauge);
    for (const PeerConfig& p : cfg->peers) {
      const DynamicPeerState* d = find_dynamic_peer(cfg->dynamic_peers, p.node_id);
      count[state_of(d, now)] += 1;
      if (d && d->expires_at > 0)
        scrape::sample(expiry, {{"peer", p.node_id}}, static_cast<double>(d->expires_at));
    }
    auto peers = scrape::family("ptp_peers",
                                "Peers of the running config by state: static (config file), "
                                "pending, active, disabled, expired (dynamic peers)",
                                prometheus::MetricType::Gauge);
    for (size_t i = 0; i < kStates.size(); ++i)
      scrape::sample(peers, {{"state", kStates[i]}}, count[i]);
    out.push_back(std::move(peers));
    out.push_back(std::move(expiry));
  });
}

}  // namespace ptp
