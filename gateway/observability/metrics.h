// Prometheus metrics of one gateway process (docs/observability.md lists every family).
// One instance, owned by main and passed by reference. All methods are thread-safe and
// cheap on the hot path: each label set is resolved to its prometheus-cpp series once
// and cached, so a repeated call costs one shared-lock hash lookup plus atomic adds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "codecs/status.h"

namespace prometheus {
class Registry;
}

namespace ptp {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished request: ptp_requests_total, ptp_request_bytes_total and
  // ptp_request_duration_seconds. `iface`/`wire` are interface_name()/wire_name().
  void request_done(std::string_view route, std::string_view iface, std::string_view wire,
                    Code code, double seconds, uint64_t bytes_in, uint64_t bytes_out);

  // ptp_active_streams{route}: call stream_closed exactly once per stream_opened.
  void stream_opened(std::string_view route);
  void stream_closed(std::string_view route);

  // ptp_upstream_connections{peer} += delta (+1 on connect, -1 on close).
  void upstream_connections(std::string_view peer, int delta);

  // ptp_config_reloads_total{result} and, when ok, ptp_config_generation += 1.
  // Main calls config_reload(true) after the initial load too, so generation 1 is the
  // config the process started with.
  void config_reload(bool ok);

  // ptp_authorization_refusals_total{reason} += 1 (docs/authorization.md).
  void authorization_refused(std::string_view reason);

  // The Prometheus text exposition format (version 0.0.4) of every family.
  std::string render() const;

  // For components that register families of their own on the same endpoint.
  prometheus::Registry& registry();
  // Runs `refresh` before each render(), for gauges read from state at scrape time.
  void on_render(std::function<void()> refresh);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptp
