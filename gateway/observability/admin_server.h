// The admin HTTP/1.1 endpoint (docs/observability.md): GET /metrics (Prometheus text),
// /healthz (liveness) and /readyz (readiness), plus routes components add (the router
// server's GET /rs/jobs/<job_id>, POST /reload, the peer routes). Runs on an io_context the
// caller runs; never blocks it. Not for PTP traffic: bind it to a management address
// (admin.address, default 127.0.0.1). GET routes are open (read-only) unless added as
// credentialed (those showing message contents); every POST and DELETE route needs the
// operator credential (docs/security.md).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/config/config.h"

namespace ptp {

class Metrics;

// One admin request as a route sees it: `path_rest` is the target after the route's prefix,
// without the query string (percent-decoding not applied); `body` at most 1 MiB.
struct AdminRequest {
  std::string method;  // "GET", "POST" or "DELETE"
  std::string path_rest;
  std::string body;
  // The target after '?' (without it; percent-decoding not applied). A default member
  // initializer, so routes' tests may still build a request from the first three.
  std::string query{};
};
// respond(status, json_body) may be called later from any thread (it posts to the admin
// io_context); exactly once (later calls are ignored; a respond dropped without a call
// answers 500).
using AdminRespond = std::function<void(unsigned status, std::string body)>;
using AdminRoute = std::function<void(AdminRequest req, AdminRespond respond)>;

class AdminServer {
 public:
  // `metrics` must outlive the io_context's last handler. `ready` is called on an I/O
  // thread for every /readyz request, so it must be cheap and non-blocking.
  AdminServer(boost::asio::io_context& ioc, const Endpoint& ep, Metrics& metrics,
              std::function<bool()> ready);
  ~AdminServer();  // stop()s
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // An extra GET route: a path starting with `prefix` is answered by fn(rest of the path,
  // percent-decoding not applied) returning {HTTP status, JSON body}. Call before start().
  // fn runs on the admin I/O thread, so it must be quick and must not block.
  using JsonRoute = std::function<std::pair<unsigned, std::string>(std::string_view rest)>;
  void add_json_route(std::string prefix, JsonRoute fn);

  // A route for `method` ("GET", "POST" or "DELETE") on paths starting with `prefix` (the
  // longest matching prefix wins). fn runs on the admin I/O thread: it must not block; slow
  // work goes elsewhere and calls respond when done. Mutating (POST/DELETE) routes require
  // the operator credential before fn is called (401 without, 403 wrong or none
  // configured; fn not called); with `credential`, a GET route too (one that shows what
  // must not be open, e.g. queued payloads). Call before start().
  void add_route(std::string method, std::string prefix, AdminRoute fn, bool credential = false);

  // Where the operator token comes from (called for every mutating request, on the admin
  // I/O thread; empty: none configured, mutating routes answer 403). Call before start().
  void set_operator_token(std::function<std::string()> token);
  // Serves TLS (admin.tls); with a client_ca, a client certificate it verifies is the
  // operator credential too (no bearer token needed). Throws std::runtime_error naming the
  // key and file that cannot be loaded. Call before start().
  void set_tls(const TlsServerConfig& tls);
  // How long a request's body may take to arrive once its header is read (default 10 s):
  // a slow client is disconnected then. Call before start().
  void set_body_timeout(std::chrono::milliseconds timeout);

  // Binds and starts accepting. Throws std::runtime_error naming the address on failure.
  void start();
  // The bound port (useful with port 0); 0 before start().
  uint16_t port() const;
  // Stops accepting and closes open connections. Asynchronous: the closing is posted to
  // the io_context; safe to call from any thread, more than once.
  void stop();

  class Impl;  // public only so the .cpp's connection class can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ptp
