// One health check of one address of a peer (peers[i].addresses; docs/operations.md
// "Failover"): TCP connect, the TLS handshake when the peer uses TLS, and for HTTP/2 and
// gRPC peers the connection preface and SETTINGS and a PING the peer answers. HTTP/1.1
// peers: connect (and TLS) only. Runs on the checker's executor, never an I/O thread's.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "codecs/status.h"
#include "gateway/config/config.h"

namespace ptp {

struct ProbeTarget {
  Endpoint endpoint;
  PeerProtocol protocol = PeerProtocol::kHttp2;
  boost::asio::ssl::context* tls = nullptr;  // null: cleartext
  std::string server_name;                   // SNI and the name verified (TLS)
  std::chrono::milliseconds timeout{1000};   // the whole check
};

// done(Ok) when every step passed within t.timeout, else done(the failure naming the step
// and the address); exactly once, on `ex`. `t.tls` must outlive the check.
void probe_address(boost::asio::any_io_executor ex, const ProbeTarget& t,
                   std::function<void(Status)> done);

}  // namespace ptp
