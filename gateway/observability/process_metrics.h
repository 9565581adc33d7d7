// The process and its data directory as Prometheus families, read at scrape time
// (prometheus-cpp has no process collector): CPU time, memory, open descriptors from
// getrusage, /proc/self and getrlimit; free space of the data directory from statvfs.
#pragma once

#include <string>

namespace ptp {

class Metrics;

// Adds ptp_process_* and ptp_data_dir_* (docs/observability.md) to `metrics`'s scrape.
// `data_dir`: the directory of the queue stores and the peer table ("" : none).
void add_process_metrics(Metrics& metrics, std::string data_dir);

}  // namespace ptp
