// The invokes a diagnosis sends from this node (the diag echoes of a hop probe, the
// in-band ptp/diag/hop to another node): over HTTP/2 and HTTP/1.1 connections of its own,
// never the request path's pools, with this node's own token for the target (an s1 token
// to a signature-mode target, else a v1/g1 token from this node's key in auth.node_keys).
// Blocking: each call runs the probe's loop until the answer arrives.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/config/config.h"
#include "gateway/diagnose/probe_loop.h"
#include "gateway/exchange/exchange.h"
#include "gateway/forward/source_tokens.h"
#include "gateway/upstream/http1_client.h"
#include "gateway/upstream/upstream_pool.h"

namespace ptp {

class ProbeClient {
 public:
  ProbeClient(ProbeLoop& loop, std::shared_ptr<const Config> cfg);
  ~ProbeClient();
  ProbeClient(const ProbeClient&) = delete;
  ProbeClient& operator=(const ProbeClient&) = delete;

  // An invoke from this node to node `target` with `uri` and `body`, sent to the peer
  // `hop` (its next hop toward target); the answer, or an error status naming the hop.
  // HTTP/2 connections send no keepalive PINGs (an idle connection stays idle).
  Response invoke(const PeerConfig& hop, const std::string& target, std::string_view uri,
                  std::string body, std::chrono::milliseconds timeout);
  // The open HTTP/2 connection to `hop` the invokes use (null: none, or not HTTP/2).
  std::shared_ptr<H2ClientSession> connection(const PeerConfig& hop);
  UpstreamPool& pool() { return h2_; }

 private:
  Status own_token(PtpHeader& h);

  ProbeLoop& loop_;
  std::shared_ptr<const Config> cfg_;
  UpstreamPool h2_;
  Http1ClientPool h1_;
  SourceTokens tokens_;
  std::string session_;  // one PTP session per diagnosis
};

}  // namespace ptp
