// The router server's jobs as Prometheus families, read at scrape time
// (docs/observability.md): running jobs, finished ones by result, converted elements.
#pragma once

namespace ptp {

class Metrics;
class RsHost;

// `host` outlives `metrics`' last render().
void add_router_job_metrics(Metrics& metrics, const RsHost& host);

}  // namespace ptp
