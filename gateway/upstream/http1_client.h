// An async HTTP/1.1 client for forwarding to local services and HTTP/1.1 peers, with
// keep-alive connection reuse and a connection limit per host:port (http1_conn_pool.h).
// Per request on a kept-alive plain connection: one sendmsg (head and body) and one
// async_read_some into the connection's buffer (a recv that finds the answer, usually after
// one that finds nothing yet: Asio tries a recv as a read starts); the response is parsed
// straight into the Http1Result (http1_response_parser.h, http1_request_writer.h).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/status.h"
#include "gateway/upstream/http1_request_writer.h"

namespace ptp {

class Metrics;

struct Http1Target {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  boost::asio::ssl::context* tls_context = nullptr;  // required when tls; outlives the pool
  std::string server_name;                           // SNI and verified name (default: host)
  size_t max_connections = 0;  // open at once (in use + idle); 0: the pool's default

  std::string authority() const { return host + ":" + std::to_string(port); }
};

// `status` is OK whenever a complete HTTP response arrived, whatever its HTTP status
// (status_from_http() in gateway/http/http_mapping.h reads the PTP outcome from it). Header
// names are lower-cased.
struct Http1Result {
  Status status;
  int http_status = 0;
  HeaderList headers;
  std::string body;
};

struct Http1ClientOptions {
  // Connections per host (in use + idle); more requests wait for one to be released.
  // Idle connections are kept up to this limit, so a steady load reuses them.
  size_t max_connections_per_host = 256;
  uint64_t max_response_body_bytes = 1ull << 30;
  uint32_t max_response_header_bytes = 64 << 10;
  // Idle connections older than this are not reused (servers drop idle keep-alives).
  std::chrono::milliseconds max_idle_time{30000};
  // When set, failed TLS handshakes count in ptp_tls_handshake_failures_total{side="client"}.
  Metrics* metrics = nullptr;
};

// One per I/O thread; not thread-safe. post() and the callbacks run on the pool's executor.
class Http1ClientPool {
 public:
  explicit Http1ClientPool(boost::asio::any_io_executor ex, Http1ClientOptions opts = {});
  ~Http1ClientPool();
  Http1ClientPool(const Http1ClientPool&) = delete;
  Http1ClientPool& operator=(const Http1ClientPool&) = delete;

  // POSTs `body` to t/path with `headers` (Host, Content-Length and Connection are set
  // here; Content-Type defaults to application/octet-stream). `done` is called exactly
  // once, never inside post(). Errors: kUnreachable (resolve, connect, connection lost),
  // kTimeout (no complete response within `timeout`), kCodecError (malformed response),
  // kTooLarge (response body over the limit), kCertCheck (TLS handshake failed).
  void post(const Http1Target& t, std::string_view path, const HeaderList& headers,
            std::string body, std::chrono::milliseconds timeout,
            std::function<void(Http1Result)> done);
  // The same with the headers as views (http1_request_writer.h), serialized before
  // post() returns: the strings they point to need not outlive the call.
  void post(const Http1Target& t, std::string_view path, std::span<const http1::HeaderView> headers,
            std::string body, std::chrono::milliseconds timeout,
            std::function<void(Http1Result)> done);

  // For tests and metrics.
  size_t idle_connections() const;
  size_t connections_opened() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with requests in flight, which may outlive us
};

}  // namespace ptp
