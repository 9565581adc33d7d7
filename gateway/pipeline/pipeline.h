// The request pipeline of one I/O thread (docs/architecture.md): decode (done by the listener) →
// validate → authenticate → loop check → route → sink (diag, local service, next hop).
// Listeners that have the PTP header before the body run the stages up to the route on
// the head alone (admit_head), and read a body only for a request that passed them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "common/random_hex.h"
#include "gateway/config/config_store.h"
#include "gateway/exchange/exchange.h"
#include "gateway/forward/forwarder.h"
#include "gateway/forward/source_tokens.h"
#include "gateway/observability/json_log.h"
#include "gateway/permits/permit_checker.h"
#include "gateway/pipeline/authorization.h"
#include "gateway/pipeline/evidence_stage.h"
#include "gateway/pipeline/token.h"
#include "gateway/upstream/http1_client.h"
#include "gateway/upstream/upstream_pool.h"

namespace ptp {

class Metrics;
class JsonLog;
class QueueService;
class PeeringService;
class PermitService;
class EvidenceLog;
class DiagnoseService;

class Pipeline final : public Dispatcher {
 public:
  // `queues` may be null: the queue interfaces then answer E0000000614; so do the
  // peering interfaces (net/weave, net/ack) without `peering`. `evidence` (may be null: no
  // `evidence` section) records what this node sent, received and refused. Without
  // `permits` (no identity), permits are neither presented nor accepted. Without
  // `diagnose`, the in-band hop probe ptp/diag/hop answers E0000000614.
  Pipeline(boost::asio::any_io_executor ex, ConfigStore& store, Metrics& metrics, JsonLog& log,
           QueueService* queues = nullptr, PeeringService* peering = nullptr,
           EvidenceLog* evidence = nullptr, PermitService* permits = nullptr,
           DiagnoseService* diagnose = nullptr);
  ~Pipeline() override;
  void dispatch(Request&& req, Responder done) override;
  Status admit_head(Request& head) override;
  void reject(Request&& req, Status st, Responder done) override;
  // Closes this thread's connections to `ep` (an address of a peer that failed its health
  // checks): requests in flight there end with E0000000607 naming `why`. On this
  // pipeline's executor.
  void close_upstream(const Endpoint& ep, const std::string& why) { h2_.close(ep, why); }

 private:
  struct Pending;
  std::shared_ptr<Pending> begin(const Request& req);
  // Validate, authenticate, loop check, then the route; Ok or the refusal.
  Status admit_and_route(Pending& p, Request& req);
  Status admit(const ConfigPtr& snapshot, Request& req);
  Status route(Pending& p, Request& req);
  // The authorization policy of the request's source at this node (docs/authorization.md),
  // and a permit it presents where the policy refuses or requires one: Ok (a permit's use
  // is then counted by run_permitted), or E0000000614/615 logged (rate-limited) and
  // counted. Takes x-ptp-permit off the request.
  Status authorize_here(Pending& p, Request& req, bool remote_push);
  Status refuse_here(const Pending& p, const Request& req, const AuthzRequest& r,
                     std::string_view reason, Status st);
  // Counts the use of the permit authorize_here accepted (on the permit thread), then
  // run()s the request, or refuses it when the permit is revoked or used up.
  void run_permitted(const std::shared_ptr<Pending>& p, Request&& req);
  void refuse(const std::shared_ptr<Pending>& p, Request& req, Status st);
  void run(const std::shared_ptr<Pending>& p, Request&& req);
  // To the next hop toward the target (kPeer), with this node's token for its own requests.
  void send_to_peer(const std::shared_ptr<Pending>& p, Request&& req, Responder answer);
  // Message evidence (docs/evidence.md), with an evidence section only. True: go on to the
  // sink with `answer` (wrapped for a receipt or a countersign when one is due); false: the
  // request was taken (signed, then sent) or refused (E0000000615).
  bool with_evidence(const std::shared_ptr<Pending>& p, Request& req, Responder& answer);

  boost::asio::any_io_executor ex_;
  ConfigStore& store_;
  Metrics& metrics_;
  JsonLog& log_;
  QueueService* queues_;
  PeeringService* peering_;
  EvidenceLog* evidence_;
  PermitService* permits_;
  DiagnoseService* diagnose_;
  UpstreamPool h2_;
  Http1ClientPool h1_;
  TokenChecks tokens_;           // token checks, with the tokens this thread checked before
  SourceTokens minted_;          // the s1 tokens this node sends to signature-mode targets
  LogThrottle authz_log_;        // authorization refusals: at most one line a second per thread
  LogThrottle authz_evidence_;   // ... and one request_refused audit record (evidence log)
  PermitChecker permit_checks_;  // presented permits this thread verified
  EvidenceStage signing_;        // signatures, receipts and countersigns of this thread
  RandomIds ids_;                // trace ids of requests that arrive without one

  // Request lines of callers refused before they were authenticated (docs/security.md "Logs
  // of refused strangers"): 20 at once, then one a second per thread.
  LogThrottle stranger_log_{std::chrono::seconds(1), 20};
};

// push, pop, peek, release: the container-facing queue interfaces.
bool is_queue_interface(Interface i);

}  // namespace ptp
