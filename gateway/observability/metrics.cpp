#include "gateway/observability/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <boost/container/small_vector.hpp>
#include <charconv>
#include <cmath>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

namespace ptp {
namespace {

// A label-tuple key, built on the stack so that the per-request path allocates nothing.
// Each part is length-prefixed so that no two label tuples share a key.
class SeriesKey {
 public:
  void part(std::string_view v) {
    char len[24];
    auto [end, ec] = std::to_chars(len, len + sizeof len, v.size());
    buf_.insert(buf_.end(), len, end);
    buf_.push_back(':');
    buf_.insert(buf_.end(), v.begin(), v.end());
  }
  std::string_view view() const { return {buf_.data(), buf_.size()}; }

 private:
  boost::container::small_vector<char, 160> buf_;
};

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Cache from an encoded label tuple to the series prometheus-cpp owns. Series are never
// removed from their families, so the stored pointers stay valid for the process.
template <typename Series>
class SeriesCache {
 public:
  template <typename Make>
  const Series& get(std::string_view key, Make&& make) {
    {
      std::shared_lock lock(mu_);
      auto it = map_.find(key);
      if (it != map_.end()) return it->second;
    }
    std::unique_lock lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) it = map_.emplace(std::string(key), make()).first;
    return it->second;
  }

 private:
  std::shared_mutex mu_;
  std::unordered_map<std::string, Series, KeyHash, std::equal_to<>> map_;
};

struct RequestSeries {
  prometheus::Counter* total;
  prometheus::Counter* bytes_in;
  prometheus::Counter* bytes_out;
  prometheus::Histogram* duration;
};

const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& write_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  return kBuckets;
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("ptp_requests_total")
          .Help("Finished PTP requests by route, interface, wire protocol and PTP code")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& bytes =
      prometheus::BuildCounter()
          .Name("ptp_request_bytes_total")
          .Help("Body bytes received (in) and sent (out) by route")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("ptp_request_duration_seconds")
          .Help("Time from request arrival to the end of the response, by route and interface")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& streams =
      prometheus::BuildGauge()
          .Name("ptp_active_streams")
          .Help("Streams (transport, streamed bodies) currently open, by route")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& upstream =
      prometheus::BuildGauge()
          .Name("ptp_upstream_connections")
          .Help("Open connections to next-hop peers, by peer node id")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& reloads =
      prometheus::BuildCounter()
          .Name("ptp_config_reloads_total")
          .Help("Config loads by result: ok (applied) or rejected (old config kept)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& generation_family =
      prometheus::BuildGauge()
          .Name("ptp_config_generation")
          .Help("Number of configs applied since start; 1 is the initial config")
          .Register(*registry);

  prometheus::Family<prometheus::Counter>& authz =
      prometheus::BuildCounter()
          .Name("ptp_authorization_refusals_total")
          .Help(
              "Requests of partner nodes refused by this node's authorization policies, by "
              "reason: no_policy, interface, uri, topic")
          .Register(*registry);
  SeriesCache<prometheus::Counter*> authz_cache;

  prometheus::Family<prometheus::Counter>& authn =
      prometheus::BuildCounter()
          .Name("ptp_authentication_refusals_total")
          .Help(
              "Requests refused because their sender could not be authenticated, by reason: "
              "missing_token, bad_token, expired_token, identity, source")
          .Register(*registry);
  std::array<prometheus::Counter*, kAuthnRefusalCount> authn_by_reason = [this] {
    std::array<prometheus::Counter*, kAuthnRefusalCount> a{};
    for (int i = 0; i < kAuthnRefusalCount; ++i)
      a[i] =
          &authn.Add({{"reason", std::string(authn_refusal_name(static_cast<AuthnRefusal>(i)))}});
    return a;
  }();

  prometheus::Family<prometheus::Counter>& tls =
      prometheus::BuildCounter()
          .Name("ptp_tls_handshake_failures_total")
          .Help(
              "TLS handshakes that failed, by side (server: a client to this gateway, client: "
              "this gateway to a next hop) and reason: timeout, certificate, protocol")
          .Register(*registry);
  // [side][reason]
  std::array<std::array<prometheus::Counter*, 3>, 2> tls_by = [this] {
    std::array<std::array<prometheus::Counter*, 3>, 2> a{};
    for (int side = 0; side < 2; ++side)
      for (int r = 0; r < 3; ++r)
        a[side][r] =
            &tls.Add({{"side", side == 0 ? "server" : "client"},
                      {"reason", std::string(tls_failure_name(static_cast<TlsFailure>(r)))}});
    return a;
  }();

  prometheus::Family<prometheus::Histogram>& store_writes =
      prometheus::BuildHistogram()
          .Name("ptp_queue_store_write_seconds")
          .Help("Time to write (and sync) one batch of a queue store, by store")
          .Register(*registry);
  std::array<prometheus::Histogram*, 3> store_write_by = [this] {
    std::array<prometheus::Histogram*, 3> a{};
    const char* names[] = {"inbox", "outbox", "other"};
    for (int i = 0; i < 3; ++i) a[i] = &store_writes.Add({{"store", names[i]}}, write_buckets());
    return a;
  }();

  prometheus::Counter& reloads_ok = reloads.Add({{"result", "ok"}});
  prometheus::Counter& reloads_rejected = reloads.Add({{"result", "rejected"}});
  prometheus::Gauge& generation = generation_family.Add({});

  SeriesCache<RequestSeries> request_cache;
  SeriesCache<prometheus::Gauge*> stream_cache;
  SeriesCache<prometheus::Gauge*> upstream_cache;
  std::vector<std::function<void()>> refreshers;  // set before serving, read-only after
  std::vector<Collector> collectors;              // the same
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::request_done(std::string_view route, std::string_view iface, std::string_view wire,
                           Code code, double seconds, uint64_t bytes_in, uint64_t bytes_out) {
  SeriesKey key;
  key.part(route);
  key.part(iface);
  key.part(wire);
  key.part(code_string(code));
  const RequestSeries& s = impl_->request_cache.get(key.view(), [&] {
    std::string r(route), i(iface);
    return RequestSeries{
        &impl_->requests.Add({{"route", r},
                              {"interface", i},
                              {"wire", std::string(wire)},
                              {"code", code_string(code)}}),
        &impl_->bytes.Add({{"route", r}, {"direction", "in"}}),
        &impl_->bytes.Add({{"route", r}, {"direction", "out"}}),
        &impl_->duration.Add({{"route", r}, {"interface", i}}, duration_buckets()),
    };
  });
  s.total->Increment();
  if (bytes_in > 0) s.bytes_in->Increment(static_cast<double>(bytes_in));
  if (bytes_out > 0) s.bytes_out->Increment(static_cast<double>(bytes_out));
  // A clock that went backwards must not poison the histogram's sum.
  if (std::isfinite(seconds)) s.duration->Observe(seconds < 0 ? 0.0 : seconds);
}

void Metrics::stream_opened(std::string_view route) {
  std::string key(route);
  impl_->stream_cache.get(key, [&] { return &impl_->streams.Add({{"route", key}}); })->Increment();
}

void Metrics::stream_closed(std::string_view route) {
  std::string key(route);
  impl_->stream_cache.get(key, [&] { return &impl_->streams.Add({{"route", key}}); })->Decrement();
}

void Metrics::upstream_connections(std::string_view peer, int delta) {
  std::string key(peer);
  impl_->upstream_cache.get(key,
                            [&] {
                              return &impl_->upstream.Add({{"peer", key}});
                            })
      ->Increment(static_cast<double>(delta));
}

void Metrics::config_reload(bool ok) {
  if (ok) {
    impl_->reloads_ok.Increment();
    impl_->generation.Increment();
  } else {
    impl_->reloads_rejected.Increment();
  }
}

void Metrics::authorization_refused(std::string_view reason) {
  impl_->authz_cache
      .get(reason,
           [&] {
             return &impl_->authz.Add({{"reason", std::string(reason)}});
           })
      ->Increment();
}

std::string_view Metrics::authn_refusal_name(AuthnRefusal r) {
  switch (r) {
    case AuthnRefusal::kMissingToken:
      return "missing_token";
    case AuthnRefusal::kBadToken:
      return "bad_token";
    case AuthnRefusal::kExpiredToken:
      return "expired_token";
    case AuthnRefusal::kIdentity:
      return "identity";
    case AuthnRefusal::kSource:
      return "source";
  }
  return "bad_token";
}

void Metrics::authentication_refused(AuthnRefusal reason) {
  impl_->authn_by_reason[static_cast<size_t>(reason)]->Increment();
}

std::string_view Metrics::tls_failure_name(TlsFailure f) {
  switch (f) {
    case TlsFailure::kTimeout:
      return "timeout";
    case TlsFailure::kCertificate:
      return "certificate";
    case TlsFailure::kProtocol:
      return "protocol";
  }
  return "protocol";
}

Metrics::TlsFailure Metrics::tls_failure_of(std::string_view error_text) {
  for (std::string_view word : {"certificate", "unknown ca", "CERTIFICATE"})
    if (error_text.find(word) != std::string_view::npos) return TlsFailure::kCertificate;
  return TlsFailure::kProtocol;
}

void Metrics::tls_handshake_failed(TlsSide side, TlsFailure reason) {
  impl_->tls_by[static_cast<size_t>(side)][static_cast<size_t>(reason)]->Increment();
}

void Metrics::queue_store_write(std::string_view store, double seconds) {
  const size_t i = store == "inbox" ? 0 : store == "outbox" ? 1 : 2;
  if (std::isfinite(seconds)) impl_->store_write_by[i]->Observe(seconds < 0 ? 0.0 : seconds);
}

void Metrics::on_render(std::function<void()> refresh) {
  impl_->refreshers.push_back(std::move(refresh));
}

void Metrics::add_collector(Collector collect) { impl_->collectors.push_back(std::move(collect)); }

std::string Metrics::render() const {
  for (const auto& r : impl_->refreshers) r();
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  for (const auto& c : impl_->collectors) c(families);
  return prometheus::TextSerializer().Serialize(families);
}

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

}  // namespace ptp
