// The admin HTTP/1.1 endpoint (docs/observability.md): GET /metrics (Prometheus text),
// /healthz (liveness) and /readyz (readiness), plus routes components add (the router
// server's GET /rs/jobs/<job_id>). Runs on an io_context the caller runs;
// never blocks it. Not for PTP traffic: bind it to a management address.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/config/config.h"

namespace ptp {

class Metrics;

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
