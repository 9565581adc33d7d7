#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gateway/config/config_store.h"
#include "gateway/observability/metrics.h"
#include "gateway/observability/peer_metrics.h"
#include "gateway/observability/process_metrics.h"
#include "gateway/observability/scrape_family.h"

using namespace ptp;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("metrics: request_done fills counters, bytes and histogram") {
  Metrics m;
  m.request_done("B", "invoke", "http2", Code::kOk, 0.003, 100, 2000);
  m.request_done("B", "invoke", "http2", Code::kOk, 0.2, 50, 0);
  m.request_done("B", "invoke", "grpc", Code::kForbidden, 0.0001, 7, 3);
  const std::string text = m.render();

  CHECK(text.find("# TYPE ptp_requests_total counter") != std::string::npos);
  CHECK(has_line(
      text,
      R"(ptp_requests_total{code="E0000000000",interface="invoke",route="B",wire="http2"} 2)"));
  CHECK(has_line(
      text,
      R"(ptp_requests_total{code="E0000000403",interface="invoke",route="B",wire="grpc"} 1)"));
  CHECK(has_line(text, R"(ptp_request_bytes_total{direction="in",route="B"} 157)"));
  CHECK(has_line(text, R"(ptp_request_bytes_total{direction="out",route="B"} 2003)"));
  CHECK(text.find("# TYPE ptp_request_duration_seconds histogram") != std::string::npos);
  CHECK(has_line(text, R"(ptp_request_duration_seconds_count{interface="invoke",route="B"} 3)"));
  CHECK(has_line(
      text, R"(ptp_request_duration_seconds_bucket{interface="invoke",route="B",le="0.0005"} 1)"));
  CHECK(has_line(
      text, R"(ptp_request_duration_seconds_bucket{interface="invoke",route="B",le="0.005"} 2)"));
  CHECK(has_line(text,
                 R"(ptp_request_duration_seconds_bucket{interface="invoke",route="B",le="60"} 3)"));
  CHECK(has_line(
      text, R"(ptp_request_duration_seconds_bucket{interface="invoke",route="B",le="+Inf"} 3)"));
}

TEST_CASE("metrics: label values that could collide in a cache key stay distinct") {
  Metrics m;
  m.request_done("a1", "invoke", "http2", Code::kOk, 0.01, 1, 1);
  m.request_done("a", "1invoke", "http2", Code::kOk, 0.01, 1, 1);
  const std::string text = m.render();
  CHECK(has_line(
      text,
      R"(ptp_requests_total{code="E0000000000",interface="invoke",route="a1",wire="http2"} 1)"));
  CHECK(has_line(
      text,
      R"(ptp_requests_total{code="E0000000000",interface="1invoke",route="a",wire="http2"} 1)"));
}

TEST_CASE("metrics: gauges for streams, upstream connections and config") {
  Metrics m;
  m.stream_opened("B");
  m.stream_opened("B");
  m.stream_opened("C");
  m.stream_closed("B");
  m.upstream_connections("node-b", 1);
  m.upstream_connections("node-b", 1);
  m.upstream_connections("node-b", -1);
  m.config_reload(true);
  m.config_reload(false);
  m.config_reload(true);
  const std::string text = m.render();
  CHECK(text.find("# TYPE ptp_active_streams gauge") != std::string::npos);
  CHECK(has_line(text, R"(ptp_active_streams{route="B"} 1)"));
  CHECK(has_line(text, R"(ptp_active_streams{route="C"} 1)"));
  CHECK(has_line(text, R"(ptp_upstream_connections{peer="node-b"} 1)"));
  CHECK(has_line(text, R"(ptp_config_reloads_total{result="ok"} 2)"));
  CHECK(has_line(text, R"(ptp_config_reloads_total{result="rejected"} 1)"));
  CHECK(has_line(text, "ptp_config_generation 2"));
}

TEST_CASE("metrics: concurrent updates are all counted") {
  Metrics m;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Half the calls share one label set, half use a per-thread one.
        std::string route = (i % 2 == 0) ? "shared" : "r" + std::to_string(t);
        m.request_done(route, "push", "http1", Code::kOk, 0.001, 1, 0);
        m.stream_opened(route);
        m.stream_closed(route);
      }
    });
  }
  for (auto& th : threads) th.join();
  const std::string text = m.render();
  CHECK(has_line(
      text,
      R"(ptp_requests_total{code="E0000000000",interface="push",route="shared",wire="http1"} 10000)"));
  CHECK(has_line(
      text,
      R"(ptp_requests_total{code="E0000000000",interface="push",route="r3",wire="http1"} 2500)"));
  CHECK(has_line(text, R"(ptp_active_streams{route="shared"} 0)"));
  CHECK(has_line(text, R"(ptp_request_bytes_total{direction="in",route="shared"} 10000)"));
}

TEST_CASE("metrics: authentication refusals and TLS failures by reason, all series from start") {
  Metrics m;
  std::string text = m.render();
  CHECK(has_line(text, R"(ptp_authentication_refusals_total{reason="expired_token"} 0)"));
  CHECK(has_line(text, R"(ptp_tls_handshake_failures_total{reason="timeout",side="client"} 0)"));
  m.authentication_refused(Metrics::AuthnRefusal::kBadToken);
  m.authentication_refused(Metrics::AuthnRefusal::kBadToken);
  m.authentication_refused(Metrics::AuthnRefusal::kIdentity);
  m.tls_handshake_failed(Metrics::TlsSide::kServer, Metrics::TlsFailure::kCertificate);
  text = m.render();
  CHECK(has_line(text, R"(ptp_authentication_refusals_total{reason="bad_token"} 2)"));
  CHECK(has_line(text, R"(ptp_authentication_refusals_total{reason="identity"} 1)"));
  CHECK(has_line(text, R"(ptp_authentication_refusals_total{reason="missing_token"} 0)"));
  CHECK(
      has_line(text, R"(ptp_tls_handshake_failures_total{reason="certificate",side="server"} 1)"));
  CHECK(has_line(text, R"(ptp_tls_handshake_failures_total{reason="protocol",side="server"} 0)"));
}

TEST_CASE("metrics: TLS error texts naming a certificate problem are certificate failures") {
  using F = Metrics::TlsFailure;
  CHECK(Metrics::tls_failure_of("certificate verify failed (SSL routines)") == F::kCertificate);
  CHECK(Metrics::tls_failure_of("tlsv1 alert unknown ca") == F::kCertificate);
  CHECK(Metrics::tls_failure_of("peer did not return a certificate") == F::kCertificate);
  CHECK(Metrics::tls_failure_of("wrong version number (SSL routines)") == F::kProtocol);
  CHECK(Metrics::tls_failure_of("http request") == F::kProtocol);
}

TEST_CASE("metrics: queue store writes go to a histogram per store") {
  Metrics m;
  m.queue_store_write("inbox", 0.002);
  m.queue_store_write("outbox", 0.0002);
  m.queue_store_write("elsewhere", -1);  // a clock that went backwards counts as 0
  const std::string text = m.render();
  CHECK(has_line(text, R"(ptp_queue_store_write_seconds_count{store="inbox"} 1)"));
  CHECK(has_line(text, R"(ptp_queue_store_write_seconds_bucket{store="inbox",le="0.001"} 0)"));
  CHECK(has_line(text, R"(ptp_queue_store_write_seconds_bucket{store="inbox",le="0.0025"} 1)"));
  CHECK(has_line(text, R"(ptp_queue_store_write_seconds_count{store="outbox"} 1)"));
  CHECK(has_line(text, R"(ptp_queue_store_write_seconds_sum{store="other"} 0)"));
}

TEST_CASE("metrics: collectors add families at scrape time, with their current values") {
  Metrics m;
  int scrapes = 0;
  m.add_collector([&](std::vector<prometheus::MetricFamily>& out) {
    ++scrapes;
    auto f = scrape::family("ptp_test_depth", "a test gauge", prometheus::MetricType::Gauge);
    for (int i = 0; i < scrapes; ++i) scrape::sample(f, {{"target", "T" + std::to_string(i)}}, i);
    out.push_back(std::move(f));
    scrape::counter(out, "ptp_test_total", "a test counter", 10.0 * scrapes);
  });
  std::string text = m.render();
  CHECK(text.find("# TYPE ptp_test_depth gauge") != std::string::npos);
  CHECK(has_line(text, R"(ptp_test_depth{target="T0"} 0)"));
  CHECK(text.find("T1") == std::string::npos);
  CHECK(has_line(text, "ptp_test_total 10"));
  text = m.render();
  CHECK(has_line(text, R"(ptp_test_depth{target="T1"} 1)"));
  CHECK(has_line(text, "ptp_test_total 20"));
}

TEST_CASE("process metrics: CPU, memory, descriptors and the data directory's space") {
  Metrics m;
  add_process_metrics(m, "/");
  const std::string text = m.render();
  for (const char* name :
       {"ptp_process_cpu_seconds_total ", "ptp_process_resident_memory_bytes ",
        "ptp_process_virtual_memory_bytes ", "ptp_process_open_fds ", "ptp_process_max_fds ",
        "ptp_process_start_time_seconds ", "ptp_data_dir_free_bytes ", "ptp_data_dir_size_bytes "})
    CHECK_MESSAGE(text.find(std::string("\n") + name) != std::string::npos, name);
  // No data directory (yet): its figures are left out, the process's are there.
  Metrics none;
  add_process_metrics(none, "/nonexistent/ptp-data");
  const std::string t2 = none.render();
  CHECK(t2.find("ptp_data_dir_free_bytes") == std::string::npos);
  CHECK(t2.find("ptp_process_open_fds") != std::string::npos);
}

TEST_CASE("peer metrics: peers by state from the running config, dynamic peers' expiry") {
  auto cfg = std::make_shared<Config>();
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (const char* id : {"S1", "S2", "P", "D", "E", "X"}) {
    PeerConfig p;
    p.node_id = id;
    cfg->peers.push_back(p);
  }
  // Sorted by node id, as the overlay keeps them.
  cfg->dynamic_peers = {{"D", PeerState::kDisabled, 0},
                        {"E", PeerState::kActive, now + 3600},
                        {"P", PeerState::kPending, 0},
                        {"X", PeerState::kActive, now - 10}};
  ConfigStore store(cfg);
  Metrics m;
  add_peer_metrics(m, store);
  const std::string text = m.render();
  CHECK(has_line(text, R"(ptp_peers{state="static"} 2)"));
  CHECK(has_line(text, R"(ptp_peers{state="pending"} 1)"));
  CHECK(has_line(text, R"(ptp_peers{state="active"} 1)"));
  CHECK(has_line(text, R"(ptp_peers{state="disabled"} 1)"));
  CHECK(has_line(text, R"(ptp_peers{state="expired"} 1)"));
  CHECK(has_line(text,
                 "ptp_peer_expiry_timestamp_seconds{peer=\"E\"} " + std::to_string(now + 3600)));
  CHECK(text.find(R"(ptp_peer_expiry_timestamp_seconds{peer="D"})") == std::string::npos);
}
