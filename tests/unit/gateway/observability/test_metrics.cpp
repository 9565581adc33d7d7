#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "gateway/observability/metrics.h"

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
