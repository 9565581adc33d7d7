// The one listening port: accepts connections and picks the codec from the first bytes
// (the HTTP/2 connection preface → HTTP/2 and gRPC; anything else → HTTP/1.1) or, with
// TLS, from ALPN (h2 or http/1.1).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "gateway/body_budget.h"
#include "gateway/config.h"
#include "gateway/exchange.h"
#include "gateway/session_registry.h"

namespace ptp {

class JsonLog;

class Listener {
 public:
  // `dispatcher_for(i)` is the pipeline of I/O context i; connections are spread
  // round-robin over `contexts`.
  Listener(std::vector<boost::asio::io_context*> contexts,
           std::function<Dispatcher&(size_t)> dispatcher_for, const Config& cfg, JsonLog& log);
  ~Listener();
  void start();  // throws std::runtime_error naming the address when bind fails
  void stop();   // stops accepting
  uint16_t port() const;
  // Shutdown, after stop(): asks every client connection to finish what it has accepted
  // and take nothing new (gateway/session_registry.h).
  void drain();
  // Client connections still open, as of each I/O thread's last purge (each call asks for the
  // next one, so polling converges; any thread may call).
  size_t live_sessions();

 private:
  void accept();
  void on_plain(boost::asio::ip::tcp::socket s, size_t ctx_index);
  void on_tls(boost::asio::ip::tcp::socket s, size_t ctx_index);

  std::vector<boost::asio::io_context*> contexts_;
  std::function<Dispatcher&(size_t)> dispatcher_for_;
  const Config cfg_;  // listener settings are fixed for the process lifetime
  JsonLog& log_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  size_t next_ = 0;
  std::vector<std::unique_ptr<SessionRegistry>> sessions_;  // one per context
  // HTTP/2 request bodies held while they arrive, all connections together.
  std::shared_ptr<BodyBudget> body_budget_ =
      std::make_shared<BodyBudget>(cfg_.limits.buffered_body_bytes_total);
};

}  // namespace ptp
