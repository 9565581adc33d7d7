// The first steps of a hop probe: a TCP connection of its own to the next hop (timed),
// and, when the hop speaks TLS, a handshake with the TLS settings the request path uses,
// reporting who answered (subject, issuer, expiry) and whether its certificate chains to
// the pinned root or CA. The connection is closed afterwards.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "gateway/config/config.h"
#include "gateway/diagnose/hop_report.h"
#include "gateway/diagnose/probe_loop.h"

namespace ptp {

struct ConnectResult {
  std::string error;  // empty: connected (and the TLS handshake passed, when TLS is used)
  bool tls_failed = false;
  std::optional<double> connect_ms;
  std::optional<HopTls> tls;  // set when TLS was tried
};

// `tls` null: cleartext. `server_name`: SNI and the name verified (empty: the host).
ConnectResult probe_connect(ProbeLoop& loop, const Endpoint& ep, boost::asio::ssl::context* tls,
                            const std::string& server_name, std::chrono::milliseconds timeout);

}  // namespace ptp
