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
#include <vector>

#include "codecs/status.h"

namespace prometheus {
class Registry;
struct MetricFamily;
}  // namespace prometheus

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

  // ptp_authentication_refusals_total{reason} += 1: a request refused before routing
  // because who sent it could not be established (docs/observability.md lists the reasons).
  enum class AuthnRefusal { kMissingToken, kBadToken, kExpiredToken, kIdentity, kSource };
  static constexpr int kAuthnRefusalCount = 5;
  static std::string_view authn_refusal_name(AuthnRefusal r);
  void authentication_refused(AuthnRefusal reason);

  // ptp_tls_handshake_failures_total{side,reason} += 1. `side`: server (a client's
  // handshake with this gateway's listener) or client (this gateway to a next hop).
  enum class TlsSide { kServer, kClient };
  enum class TlsFailure { kTimeout, kCertificate, kProtocol };
  static std::string_view tls_failure_name(TlsFailure f);
  // certificate when an OpenSSL error text names a certificate problem (verify failed,
  // unknown CA, bad or missing certificate), else protocol.
  static TlsFailure tls_failure_of(std::string_view error_text);
  void tls_handshake_failed(TlsSide side, TlsFailure reason);

  // ptp_queue_store_write_seconds{store}: one batch written (and synced) by a queue store.
  // `store` is "inbox" or "outbox" (any other name is folded into "other").
  void queue_store_write(std::string_view store, double seconds);

  // The Prometheus text exposition format (version 0.0.4) of every family.
  std::string render() const;

  // For components that register families of their own on the same endpoint.
  prometheus::Registry& registry();
  // Runs `refresh` before each render(), for gauges read from state at scrape time.
  void on_render(std::function<void()> refresh);
  // Families built at scrape time (gateway/observability/scrape_family.h): `collect`
  // appends them on each render(), after the registry's, so label sets may come and go
  // and counters kept elsewhere are exported as they are. Set before serving.
  using Collector = std::function<void(std::vector<prometheus::MetricFamily>&)>;
  void add_collector(Collector collect);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptp
