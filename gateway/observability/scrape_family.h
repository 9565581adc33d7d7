// Building Prometheus families at scrape time (Metrics::add_collector): for values read
// from state when /metrics is asked (queue depths, process figures, peer states), so the
// request path keeps no gauge up to date and label sets may come and go.
#pragma once

#include <prometheus/metric_family.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace ptp::scrape {

// A new family: add samples with sample(), then move it into the collector's output.
inline prometheus::MetricFamily family(std::string name, std::string help,
                                       prometheus::MetricType type) {
  return {std::move(name), std::move(help), type, {}};
}

// One sample of a gauge or counter family.
inline void sample(prometheus::MetricFamily& f,
                   std::initializer_list<std::pair<std::string, std::string>> labels,
                   double value) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  if (f.type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

// A family of one unlabelled sample, appended to `out`.
inline void single(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
                   prometheus::MetricType type, double value) {
  out.push_back(family(std::move(name), std::move(help), type));
  sample(out.back(), {}, value);
}

inline void gauge(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
                  double value) {
  single(out, std::move(name), std::move(help), prometheus::MetricType::Gauge, value);
}

inline void counter(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
                    double value) {
  single(out, std::move(name), std::move(help), prometheus::MetricType::Counter, value);
}

}  // namespace ptp::scrape
