#include "gateway/rs/rs_metrics.h"

#include "gateway/observability/metrics.h"
#include "gateway/observability/scrape_family.h"
#include "gateway/rs/rs_host.h"

namespace ptp {

void add_router_job_metrics(Metrics& metrics, const RsHost& host) {
  metrics.add_collector([&host](std::vector<prometheus::MetricFamily>& out) {
    const RsHost::JobCounts c = host.job_counts();
    scrape::gauge(out, "ptp_router_jobs_running",
                  "Router-server jobs running now (waiting for input or converting)",
                  static_cast<double>(c.running));
    scrape::gauge(out, "ptp_router_jobs_waiting",
                  "Router-server jobs whose spec came while every job slot, or every slot its "
                  "job source may hold, was taken: each starts when one frees",
                  static_cast<double>(c.waiting));
    auto done = scrape::family("ptp_router_jobs_total",
                               "Router-server jobs finished, by result: delivered or failed",
                               prometheus::MetricType::Counter);
    scrape::sample(done, {{"result", "delivered"}}, static_cast<double>(c.delivered));
    scrape::sample(done, {{"result", "failed"}}, static_cast<double>(c.failed));
    out.push_back(std::move(done));
    scrape::counter(out, "ptp_router_job_elements_total",
                    "Elements converted by delivered router-server jobs (rate: elements/s)",
                    static_cast<double>(c.elements));
    scrape::gauge(out, "ptp_router_job_elements_per_second",
                  "Conversion speed of the last delivered router-server job",
                  c.last_elements_per_second);
  });
}

}  // namespace ptp
