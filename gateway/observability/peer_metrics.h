// The peer table as Prometheus families, read from the running config at scrape time
// (docs/observability.md): peers by state, and when each dynamic peer's record expires.
#pragma once

namespace ptp {

class ConfigStore;
class Metrics;

// `config` outlives `metrics`' last render().
void add_peer_metrics(Metrics& metrics, const ConfigStore& config);

}  // namespace ptp
