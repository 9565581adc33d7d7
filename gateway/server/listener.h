// The one listening port: accepts connections and picks the codec from the first bytes
// (the HTTP/2 connection preface → HTTP/2 and gRPC; anything else → HTTP/1.1) or, with
// TLS (listen.tls, or this node's identity), from ALPN (h2 or http/1.1). Client
// certificates and the hop identity they give: gateway/server/client_roots.h.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "common/accept_backoff.h"
#include "gateway/config/config.h"
#include "gateway/config/config_store.h"
#include "gateway/exchange/body_budget.h"
#include "gateway/exchange/exchange.h"
#include "gateway/http/connection_limit.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "gateway/server/client_roots.h"
#include "gateway/server/session_registry.h"

namespace ptp {

class Listener {
 public:
  // `dispatcher_for(i)` is the pipeline of I/O context i; connections are spread
  // round-robin over `contexts`.
  Listener(std::vector<boost::asio::io_context*> contexts,
           std::function<Dispatcher&(size_t)> dispatcher_for, const Config& cfg, JsonLog& log);
  ~Listener();
  // Connections opened from now on take their limits (body, header, concurrent streams)
  // from the store's current snapshot, so a reload applies them; without it they keep
  // `cfg`'s. The store must outlive the listener.
  void follow_reloads(const ConfigStore& store) {
    store_ = &store;
    if (clients_) clients_->follow(store);  // pinned roots of the current snapshot
  }
  // Failed TLS handshakes count in ptp_tls_handshake_failures_total{side="server"}. Call
  // before start(); `metrics` outlives the listener.
  void count_tls_failures(Metrics& metrics) { metrics_ = &metrics; }
  void start();  // throws std::runtime_error naming the address when bind fails
  void stop();   // stops accepting
  uint16_t port() const;
  // Shutdown, after stop(): asks every client connection to finish what it has accepted
  // and take nothing new (gateway/server/session_registry.h).
  void drain();
  // Client connections still open, as of each I/O thread's last purge (each call asks for the
  // next one, so polling converges; any thread may call).
  size_t live_sessions();
  // connections.max_connections, or its default from RLIMIT_NOFILE.
  size_t max_connections() const { return limit_.max(); }

 private:
  void accept();
  void on_accepted(boost::asio::ip::tcp::socket s, size_t ctx_index);
  void on_accept_error(const boost::system::error_code& ec);
  void on_plain(boost::asio::ip::tcp::socket s, size_t ctx_index, ConnectionSlot slot);
  void on_tls(boost::asio::ip::tcp::socket s, size_t ctx_index, ConnectionSlot slot);

  std::vector<boost::asio::io_context*> contexts_;
  std::function<Dispatcher&(size_t)> dispatcher_for_;
  const Config cfg_;                    // address and TLS are fixed for the process lifetime
  const ConfigStore* store_ = nullptr;  // limits of new connections (follow_reloads)
  // The config new connections take their limits from; `hold` keeps it alive.
  const Config& limits_source(ConfigPtr& hold) const;
  JsonLog& log_;
  Metrics* metrics_ = nullptr;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<ClientVerifier> clients_;  // client certificates (mTLS), when asked for
  size_t next_ = 0;
  std::vector<std::unique_ptr<SessionRegistry>> sessions_;  // one per context
  // "TLS handshake failed" lines, one budget per context (its thread): strangers choose how
  // often handshakes fail (docs/security.md "Logs of refused strangers").
  std::vector<LogThrottle> tls_failure_logs_;
  ConnectionLimit limit_;
  // The accept loop's own state (it runs on context 0 only).
  AcceptBackoff backoff_;
  boost::asio::steady_timer pause_;  // accepting again after running out of descriptors
  LogThrottle accept_error_log_;
  LogThrottle over_limit_log_;
  // HTTP/2 request bodies held while they arrive, all connections together.
  std::shared_ptr<BodyBudget> body_budget_ =
      std::make_shared<BodyBudget>(cfg_.limits.buffered_body_bytes_total);
};

}  // namespace ptp
