#include "gateway/pipeline/pipeline.h"

#include <chrono>

#include "codecs/header_codec.h"
#include "codecs/proto_codec.h"
#include "codecs/traceparent.h"
#include "codecs/validate.h"
#include "common/random_hex.h"
#include "common/release_token.h"
#include "common/unix_time.h"
#include "gateway/diagnose/diagnose_service.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "gateway/peering/peering_service.h"
#include "gateway/permits/permit_attach.h"
#include "gateway/permits/permit_service.h"
#include "gateway/pipeline/authorization.h"
#include "gateway/pipeline/diag_service.h"
#include "gateway/pipeline/identity_binding.h"
#include "gateway/pipeline/token.h"
#include "gateway/queue/queue_service.h"
#include "gateway/route/route_path.h"
#include "gateway/route/route_table.h"

namespace ptp {
namespace {

// The longest value a log line of a refused unauthenticated request carries (ids are
// shorter; a longer one was refused for its length anyway).
constexpr size_t kStrangerValueBytes = 128;

// Calls f(node) for each node id of a comma-separated route path.
template <class F>
void for_each_hop(std::string_view s, F&& f) {
  while (!s.empty()) {
    auto pos = s.find(',');
    auto part = s.substr(0, pos);
    if (!part.empty()) f(part);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
}

// A dynamic peer's state (docs/peering.md): a disabled peer (E0000000606) or an expired
// peering (E0000000605) refuses requests to it and from it at this node.
Status peering_state(const Config& cfg, std::string_view node, std::string_view role, int64_t now) {
  const DynamicPeerState* p = find_dynamic_peer(cfg.dynamic_peers, node);
  if (!p) return Status::Ok();
  if (p->state == PeerState::kDisabled)
    return Status::Error(Code::kPeerDisabled,
                         "node " + cfg.node_id + " has disabled peering with " + std::string(node) +
                             " (" + std::string(role) + " of this request)");
  if (p->expires_at > 0 && p->expires_at < now)
    return Status::Error(Code::kPeeringExpired, "the peering of node " + cfg.node_id + " with " +
                                                    std::string(node) + " (" + std::string(role) +
                                                    " of this request) expired at " +
                                                    std::to_string(p->expires_at) + "; renew it");
  return Status::Ok();
}

}  // namespace

bool is_queue_interface(Interface i) {
  return i == Interface::kPush || i == Interface::kPop || i == Interface::kPeek ||
         i == Interface::kRelease;
}

Pipeline::Pipeline(boost::asio::any_io_executor ex, ConfigStore& store, Metrics& metrics,
                   JsonLog& log, QueueService* queues, PeeringService* peering,
                   EvidenceLog* evidence, PermitService* permits, DiagnoseService* diagnose)
    : ex_(ex),
      store_(store),
      metrics_(metrics),
      log_(log),
      queues_(queues),
      peering_(peering),
      evidence_(evidence),
      permits_(permits),
      diagnose_(diagnose),
      h2_(ex, &metrics),
      h1_(ex, {.metrics = &metrics}),
      signing_(ex, log, evidence) {}

Pipeline::~Pipeline() = default;

Status Pipeline::admit(const ConfigPtr& snapshot, Request& req) {
  const Config& cfg = *snapshot;
  auto& h = req.env.header;
  // W3C trace context: without x-ptp-trace-id, a valid traceparent's trace id is the trace.
  if (!req.env.meta.empty()) adopt_traceparent(req.env);
  if (h.trace_id.empty()) h.trace_id = ids_.trace_id();
  // The peering handshake carries no PTP header: its body is checked by the service.
  if (is_peering_interface(req.iface))
    return peering_
               ? Status::Ok()
               : Status::Error(Code::kNotPermitted, std::string("interface net/") +
                                                        std::string(interface_name(req.iface)) +
                                                        " is not served by this gateway");
  const bool queue_iface = is_queue_interface(req.iface);
  using Authn = Metrics::AuthnRefusal;
  if (Status st =
          check_identity_binding(cfg, req.iface, queue_iface, h.source_node_id, req.hop_node_id);
      !st.ok()) {
    metrics_.authentication_refused(Authn::kIdentity);
    return st;
  }
  if (queue_iface) {
    if (!queues_ || !cfg.queue.enabled)
      return Status::Error(Code::kNotPermitted, std::string("interface ") +
                                                    std::string(interface_name(req.iface)) +
                                                    " is not enabled on this gateway");
    // A container speaks for this node only; the gateway fills in who that is.
    if (h.source_node_id.empty()) h.source_node_id = cfg.node_id;
    if (h.source_inst_id.empty()) h.source_inst_id = cfg.inst_id;
    if (h.source_node_id != cfg.node_id) {
      metrics_.authentication_refused(Authn::kSource);
      return Status::Error(Code::kForbidden, "a container of node " + cfg.node_id +
                                                 " cannot send as node " + h.source_node_id);
    }
  }
  // A missing token is an authentication failure (403), not a malformed request.
  if (cfg.auth.enabled && h.token.empty()) {
    metrics_.authentication_refused(Authn::kMissingToken);
    return Status::Error(Code::kForbidden, "missing x-ptp-token");
  }
  ValidationLimits lim;
  lim.max_field_length = cfg.limits.max_field_length;
  lim.max_body_bytes = cfg.limits.max_body_bytes;
  if (Status st = validate_request(req.env, req.iface, lim); !st.ok()) return st;
  // Loop detection: the path of node ids this request has crossed, plus a hop limit.
  static const std::string kPathKey(kRoutePathKey);
  auto path_it = req.env.meta.find(kPathKey);
  const std::string_view path =
      path_it == req.env.meta.end() ? std::string_view() : std::string_view(path_it->second);
  size_t hops = 0;
  bool crossed = false;
  for_each_hop(path, [&](std::string_view n) {
    ++hops;
    crossed = crossed || n == cfg.node_id;
  });
  if (crossed)
    return Status::Error(Code::kLoop, "routing loop: request already crossed this node (path " +
                                          std::string(path) + ")");
  if (hops >= cfg.limits.max_hops)
    return Status::Error(Code::kLoop, "hop limit " + std::to_string(cfg.limits.max_hops) +
                                          " reached (path " + std::string(path) + ")");
  const int64_t now = unix_now();
  if (!cfg.dynamic_peers.empty()) {
    if (Status st = peering_state(cfg, h.source_node_id, "source", now); !st.ok()) return st;
    if (Status st = peering_state(cfg, h.target_node_id, "target", now); !st.ok()) return st;
  }
  Status st = check_request_token(snapshot, h, req.hop_node_id, now, tokens_);
  if (!st.ok())
    metrics_.authentication_refused(st.message.starts_with("token expired") ? Authn::kExpiredToken
                                                                            : Authn::kBadToken);
  return st;
}

// One request's bookkeeping from its head (or dispatch) to its answer, in one
// allocation: the responders handed to the sinks hold just a pointer to it.
struct Pipeline::Pending {
  Pipeline* pipeline;
  ConfigPtr cfg;
  std::chrono::steady_clock::time_point start;
  uint64_t bytes_in = 0;
  // A streamed request's bytes in so far (BodyPipe::written), counted when it is recorded.
  std::shared_ptr<const uint64_t> streamed_in;
  Interface iface;
  WireProtocol wire;
  Responder done;
  LogFields lf;
  std::string route = "rejected";  // the metrics label; set by route()
  bool echo_session = true;
  // Refused before its caller was authenticated: admit() failed (it ends with the token
  // check), or the session refused it before the pipeline had a head (reject()).
  bool unauthenticated = false;
  bool to_queue = false;    // route(): the queue service takes it
  bool to_peering = false;  // route(): the peering service takes it
  RouteDecision decision;   // route(): otherwise, where it goes
  std::string permit_id;    // authorize_here(): the permit whose use run_permitted counts
  Status refusal;           // admit_head's verdict, for a dispatch() that ignored it
  std::string provider;     // gRPC queue interfaces: the caller's dialect, for errors

  // How a gRPC caller gets an error or a stream's end (docs/configuration.md
  // listen.grpc_errors): its peer entry's choice, else the listener's. Queue interfaces
  // answer errors as TransportOutbound in the caller's layout.
  void shape_grpc(Response& r) const {
    const PeerConfig* peer = find_peer(*cfg, lf.source);
    r.grpc_errors = peer && peer->grpc_errors ? *peer->grpc_errors : cfg->grpc_errors;
    if (!r.env.status.ok() && is_queue_interface(iface) && !r.grpc_message) {
      Envelope e;
      e.status = r.env.status;
      r.grpc_message =
          encode_transport_outbound(e, queue_dialect(cfg->queue, provider).reply_layout);
    }
  }

  // `self` owns this record (a streamed answer keeps it until the stream ends).
  void finish(Response&& r, const std::shared_ptr<Pending>& self) {
    if (r.env.status.hop.empty() && !r.env.status.ok()) r.env.status.hop = cfg->node_id;
    if (r.env.header.trace_id.empty()) r.env.header.trace_id = lf.trace_id;
    if (echo_session && r.env.header.session_id.empty()) r.env.header.session_id = lf.session_id;
    if (wire == WireProtocol::kGrpc && (!r.env.status.ok() || r.stream)) shape_grpc(r);
    if (r.stream) [[unlikely]] {
      // A streamed answer is logged and counted when its stream ends, with how it ended
      // (a reset, a failed signature check, a client gone after the head went out) and
      // the whole stream's time (docs/observability.md "Streamed answers"). Metrics and
      // log outlive the I/O threads (and this pipeline) whose streams may still end.
      r.stream->set_on_end([self, head = r.env.status, metrics = &pipeline->metrics_,
                            log = &pipeline->log_](const Status& end, uint64_t taken) {
        Status st = head.ok() ? end : head;
        if (st.hop.empty() && !st.ok()) st.hop = self->cfg->node_id;
        self->record(st, taken, *metrics, *log, nullptr);
      });
      done(std::move(r));
      return;
    }
    record(r.env.status, r.env.body.size(), pipeline->metrics_, pipeline->log_,
           &pipeline->stranger_log_);
    done(std::move(r));
  }

  // The request's access log line and metrics, for an answer whose outcome is `st`.
  // `stranger_log` rate-limits the lines of refused strangers (null: not limited).
  void record(const Status& st, uint64_t bytes_out, Metrics& metrics, JsonLog& log,
              LogThrottle* stranger_log) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics.request_done(route, interface_name(iface), wire_name(wire), st.code, secs,
                         bytes_in + (streamed_in ? *streamed_in : 0), bytes_out);
    const LogLevel level = st.ok() ? LogLevel::kInfo : LogLevel::kWarn;
    // A stranger's refusals cost it a request each: their lines are rate-limited and
    // clipped, so it cannot make the gateway write more than it sends. A refused peering
    // handshake is a stranger's too (weave and ack carry no token).
    const bool stranger = stranger_log && (unauthenticated || to_peering) && !st.ok();
    uint64_t suppressed = 0;
    if (log.enabled(level) && (!stranger || stranger_log->allow(suppressed))) {
      lf.route = route;
      lf.code = st.code;
      lf.duration_ms = secs * 1000;
      lf.hop = st.hop;
      if (!st.ok()) lf.extra.emplace_back("error", st.message);
      if (stranger) clip_stranger_values(suppressed);
      log.log(level, std::string(interface_name(iface)), lf);
    }
  }

  // Every value of the line, as the caller sent it or quoted in an error, cut to
  // kStrangerValueBytes; and how many such lines were left out before this one.
  void clip_stranger_values(uint64_t suppressed) {
    for (std::string* v : {&lf.trace_id, &lf.session_id, &lf.source, &lf.target, &lf.hop})
      *v = clip_log_value(*v, kStrangerValueBytes);
    for (auto& [key, value] : lf.extra) value = clip_log_value(value, kStrangerValueBytes);
    if (suppressed > 0) lf.extra.emplace_back("suppressed", std::to_string(suppressed));
  }
};

std::shared_ptr<Pipeline::Pending> Pipeline::begin(const Request& req) {
  auto p = std::make_shared<Pending>();
  p->pipeline = this;
  p->cfg = store_.current();
  p->start = std::chrono::steady_clock::now();
  p->iface = req.iface;
  p->wire = req.wire;
  return p;
}

Status Pipeline::admit_and_route(Pending& p, Request& req) {
  Status st = admit(p.cfg, req);
  const auto& h = req.env.header;
  p.lf.trace_id = h.trace_id;
  p.lf.session_id = h.session_id;
  p.lf.source = h.source_node_id;
  p.lf.target = h.target_node_id;
  // The peer whose certificate carried the request (mTLS), for the audit trail.
  if (!req.hop_node_id.empty()) p.lf.extra.emplace_back("hop_identity", req.hop_node_id);
  if (p.wire == WireProtocol::kGrpc && is_queue_interface(p.iface))
    p.provider = h.tech_provider_code;
  if (!st.ok()) {
    p.echo_session = false;  // a rejection names the trace only
    p.unauthenticated = true;
    return st;
  }
  return route(p, req);
}

Status Pipeline::route(Pending& p, Request& req) {
  const Config& cfg = *p.cfg;
  const PtpHeader& h = req.env.header;
  if (is_peering_interface(req.iface)) {
    p.route = "peering";
    p.to_peering = true;
    return Status::Ok();
  }
  if (is_queue_interface(req.iface) ||
      (req.iface == Interface::kInvoke && h.target_node_id == cfg.node_id &&
       h.uri == kQueuePushUri)) {
    p.route = "queue";
    p.to_queue = true;
    if (!queues_ || !cfg.queue.enabled)
      return Status::Error(Code::kNotPermitted, "queues are not enabled on node " + cfg.node_id);
    return authorize_here(p, req, req.iface == Interface::kInvoke);
  }
  if (cfg.authorization.enabled && is_for_this_node(cfg, h))
    if (Status st = authorize_here(p, req, false); !st.ok()) return st;
  p.decision = resolve_route(cfg, h);
  p.route = p.decision.route_name;
  if (p.decision.kind == RouteDecision::Kind::kError) return p.decision.error;
  if (p.decision.kind == RouteDecision::Kind::kPeer && !cfg.router_role &&
      h.source_node_id != cfg.node_id)
    return Status::Error(Code::kNotPermitted,
                         "node " + cfg.node_id +
                             " is an edge gateway and does not relay traffic from " +
                             h.source_node_id + " to " + h.target_node_id);
  // A message this node sends to or receives from another node is recorded in the evidence
  // log: while the log cannot take records, on_failure: refuse refuses it (docs/evidence.md).
  if (evidence_ && h.source_node_id != h.target_node_id &&
      (h.source_node_id == cfg.node_id || h.target_node_id == cfg.node_id) &&
      cfg.evidence.on_failure == EvidenceOnFailure::kRefuse && !evidence_->accepting())
    return Status::Error(Code::kBufferFull,
                         "node " + cfg.node_id +
                             " cannot record evidence of this message now (its evidence log "
                             "is not writing; evidence.on_failure: refuse)");
  return Status::Ok();
}

Status Pipeline::authorize_here(Pending& p, Request& req, bool remote_push) {
  const Config& cfg = *p.cfg;
  if (!cfg.authorization.enabled) return Status::Ok();
  const PtpHeader& h = req.env.header;
  AuthzRequest r;
  r.source = h.source_node_id;
  r.target = cfg.node_id;  // called for requests to this node only
  r.iface = remote_push ? Interface::kPush : req.iface;
  r.uri = h.uri;
  if (remote_push) {
    static const std::string kTopicKey(kMessageTopicKey);
    auto it = req.env.meta.find(kTopicKey);
    if (it != req.env.meta.end()) r.topic = it->second;
  }
  const AuthzReason why = authorize(cfg, r);
  // A permit is needed where the policy refuses, where it says require_permit, and for a
  // router job without router_jobs (docs/authorization.md "Router jobs").
  bool need_permit = why != AuthzReason::kNone;
  const bool from_peer = r.source != cfg.node_id;
  const PermitAsk ask =
      remote_push ? push_permit_ask(r.topic, h.session_id) : PermitAsk{"service", r.uri};
  std::string_view unmet;  // what only a permit can grant, when the policy allows the call
  if (!need_permit && from_peer) {
    const PeerPolicy* pol = find_peer_policy(cfg.authorization, r.source);
    if (pol && pol->require_permit) unmet = "require_permit";
    if (ask.type == "router_job" && cfg.router_server.enabled &&
        !(pol ? pol->router_jobs : cfg.authorization.default_allow))
      unmet = "router_jobs";
    need_permit = !unmet.empty();
  }
  static const std::string kPermitKey(kPermitHeaderName);
  auto permit = req.env.meta.find(kPermitKey);
  if (!need_permit) {
    // Allowed by the policy: a presented permit is not needed, and not counted.
    if (permit != req.env.meta.end()) req.env.meta.erase(permit);
    return Status::Ok();
  }
  if (permit != req.env.meta.end() && permits_) {
    const PermitScope scope{cfg.node_id, r.source, ask.type, ask.resource};
    Status st =
        permit_checks_.check(permits_->own_key(), permit->second, scope, unix_now(), p.permit_id);
    req.env.meta.erase(permit);
    if (st.ok()) return st;  // its use is counted before the request runs
    st.hop = cfg.node_id;
    return refuse_here(p, req, r, "permit", std::move(st));
  }
  if (why != AuthzReason::kNone)
    return refuse_here(p, req, r, authz_reason_name(why), authz_refusal(cfg, r, why));
  const std::string what = ask.type == "router_job"
                               ? "start router job '" + std::string(ask.resource) + "'"
                               : "call " + std::string(interface_name(r.iface)) + " on " +
                                     std::string(ask.type) + " '" + std::string(ask.resource) + "'";
  return refuse_here(
      p, req, r, unmet == "router_jobs" ? "router_jobs" : "no_permit",
      Status::Error(Code::kNotPermitted,
                    "node " + std::string(r.source) + " needs a permit to " + what + " at node " +
                        cfg.node_id + " (authorization: " + std::string(unmet) +
                        (unmet == "router_jobs" ? " is false" : "") + ")",
                    cfg.node_id));
}

Status Pipeline::refuse_here(const Pending&, const Request& req, const AuthzRequest& r,
                             std::string_view reason, Status st) {
  const PtpHeader& h = req.env.header;
  metrics_.authorization_refused(reason);
  uint64_t suppressed = 0;
  if (log_.enabled(LogLevel::kWarn) && authz_log_.allow(suppressed)) {
    LogFields lf{.trace_id = h.trace_id, .source = h.source_node_id, .target = h.target_node_id};
    lf.extra = {{"interface", std::string(interface_name(r.iface))},
                {"reason", std::string(reason)},
                {"suppressed", std::to_string(suppressed)}};
    if (r.iface == Interface::kPush)
      lf.extra.emplace_back("topic", std::string(r.topic));
    else
      lf.extra.emplace_back("uri", std::string(r.uri));
    if (reason == "permit") lf.extra.emplace_back("error", st.message);
    log_.warn("authorization refused", lf);
  }
  if (evidence_ && authz_evidence_.allow(suppressed)) {
    const bool push = r.iface == Interface::kPush;
    evidence_->append("audit",
                      {{"event", reason == "permit" ? "permit_refused" : "request_refused"},
                       {"source", h.source_node_id},
                       {"interface", interface_name(r.iface)},
                       {push ? "topic" : "uri", push ? r.topic : r.uri},
                       {"reason", reason == "permit" ? std::string_view(st.message) : reason},
                       {"trace_id", h.trace_id},
                       {"suppressed", std::to_string(suppressed)}});
  }
  return st;
}

void Pipeline::run_permitted(const std::shared_ptr<Pending>& p, Request&& req) {
  std::string id = std::move(p->permit_id);
  auto held = std::make_shared<Request>(std::move(req));
  permits_->use(std::move(id), ex_, [this, p, held](Status st) {
    if (!st.ok()) {
      metrics_.authorization_refused("permit");
      return refuse(p, *held, std::move(st));
    }
    run(p, std::move(*held));
  });
}

Status Pipeline::admit_head(Request& head) {
  auto p = begin(head);
  Status st = admit_and_route(*p, head);
  p->refusal = st;
  head.admitted = std::move(p);  // reject() answers a refusal with this record
  return st;
}

void Pipeline::reject(Request&& req, Status st, Responder done) {
  auto p = std::static_pointer_cast<Pending>(std::move(req.admitted));
  if (!p) {
    // Refused by the session before the pipeline saw a head it could authenticate (its
    // headers too large, a gRPC invoke over the body budgets before its Inbound arrived).
    p = begin(req);
    p->unauthenticated = true;
    const auto& h = req.env.header;
    p->lf.trace_id = h.trace_id;
    p->lf.source = h.source_node_id;
    p->lf.target = h.target_node_id;
    if (p->wire == WireProtocol::kGrpc && is_queue_interface(p->iface))
      p->provider = h.tech_provider_code;
  }
  p->echo_session = false;
  p->done = std::move(done);
  p->bytes_in = req.env.body.size();
  if (req.stream) p->streamed_in = req.stream->written();
  refuse(p, req, std::move(st));
}

void Pipeline::refuse(const std::shared_ptr<Pending>& p, Request& req, Status st) {
  if (st.hop.empty()) st.hop = p->cfg->node_id;
  if (req.stream) req.stream->cancel();
  p->finish(error_response(std::move(st)), p);
}

void Pipeline::dispatch(Request&& req, Responder done) {
  // A head admitted by admit_head() continues from its record: only the body is new.
  auto p = std::static_pointer_cast<Pending>(std::move(req.admitted));
  Status st;
  if (p) {
    st = p->refusal;
    if (st.ok() && req.env.body.size() > p->cfg->limits.max_body_bytes)
      st = Status::Error(Code::kTooLarge, "body of " + std::to_string(req.env.body.size()) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(p->cfg->limits.max_body_bytes) +
                                              " bytes");
  } else {
    p = begin(req);
    st = admit_and_route(*p, req);
  }
  p->done = std::move(done);
  p->bytes_in = req.env.body.size();
  if (req.stream) p->streamed_in = req.stream->written();
  if (!st.ok()) return refuse(p, req, std::move(st));
  if (!p->permit_id.empty() && permits_) return run_permitted(p, std::move(req));
  run(p, std::move(req));
}

void Pipeline::run(const std::shared_ptr<Pending>& p, Request&& req) {
  const Config* cfg = p->cfg.get();
  Responder answer = [p](Response&& r) { p->finish(std::move(r), p); };
  if (cfg->evidence.enabled) [[unlikely]]
    if (!with_evidence(p, req, answer)) return;
  if (p->to_peering) {
    peering_->serve(req.iface, std::move(req.env.body), ex_, std::move(answer));
    return;
  }
  if (p->to_queue) {
    if (req.iface == Interface::kInvoke)
      queues_->accept_remote(*cfg, std::move(req), std::move(answer), ex_);
    else
      queues_->handle(*cfg, std::move(req), std::move(answer), ex_);
    return;
  }
  const RouteDecision& route = p->decision;
  if (req.stream) {
    // ptp_active_streams{route} counts a streamed exchange until its request pipe is gone.
    metrics_.stream_opened(route.route_name);
    req.stream->keep_alive_with(
        release_token([m = &metrics_, name = route.route_name] { m->stream_closed(name); }));
  }
  switch (route.kind) {
    case RouteDecision::Kind::kDiag:
      if (req.env.header.uri == kDiagHopUri) {  // the in-band hop probe (gateway/diagnose)
        if (!diagnose_)
          return answer(error_response(Status::Error(
              Code::kNotPermitted, "ptp/diag/hop is not served by this gateway", cfg->node_id)));
        diagnose_->serve(p->cfg, std::move(req), ex_, std::move(answer));
        return;
      }
      answer(diag_echo(req, cfg->node_id));
      return;
    case RouteDecision::Kind::kLocalService: {
      Forwarder fwd(h2_, h1_, *cfg);
      fwd.forward(std::move(req), target_for_service(*route.service), std::move(answer));
      return;
    }
    case RouteDecision::Kind::kPeer: {
      if (route.target_peer && route.target_peer->async_only && queues_ && cfg->queue.enabled) {
        // Reachable only through queues: push, then wait for the reply (docs/queues.md).
        queues_->invoke_async(p->cfg, std::move(req), route.next_hop->timeout, std::move(answer),
                              ex_);
        return;
      }
      send_to_peer(p, std::move(req), std::move(answer));
      return;
    }
    case RouteDecision::Kind::kError:  // refused by route()
      return;
  }
}

bool Pipeline::with_evidence(const std::shared_ptr<Pending>& p, Request& req, Responder& answer) {
  const Config& cfg = *p->cfg;
  const PtpHeader& h = req.env.header;
  const RouteDecision& route = p->decision;
  const bool to_peer = !p->to_queue && route.kind == RouteDecision::Kind::kPeer;
  // A batch statement (x-ptp-statement, up to ~11 KB) is for the gateway that checks the
  // message's signature: passed on toward a peer, read by EvidenceStage::receive for a
  // unary message to this node, and dropped everywhere else, so that no service or queue
  // record gets it (also where this gateway checks no signatures).
  const auto drop_statement = [&req] {
    static const std::string kStatementKey(kStatementHeader);
    req.env.meta.erase(kStatementKey);
  };
  if (p->to_peering || !evidence_signing(cfg)) {
    if (!to_peer) drop_statement();
    return true;
  }
  if (h.source_node_id == cfg.node_id) {
    // This node's own message to another node: signed, then sent (async-only targets go
    // through the queues, whose outbox signs the push).
    if (!to_peer ||
        (route.target_peer && route.target_peer->async_only && queues_ && cfg.queue.enabled))
      return true;
    if (req.stream) {  // signed in its trailers once it ended
      // A gRPC client's messages that go straight to their target over gRPC: their
      // boundaries are signed too (ptp-msg-v2). Through a router the bytes are signed (v1):
      // a router may pass them on over HTTP/2, where the boundaries are lost, and this node
      // cannot know its hops beyond the first.
      const bool messages = req.wire == WireProtocol::kGrpc && route.next_hop &&
                            route.next_hop->protocol == PeerProtocol::kGrpc &&
                            route.next_hop->node_id == h.target_node_id;
      Status st = signing_.send_stream(p->cfg, req, tokens_.roots, answer, messages);
      if (!st.ok()) refuse(p, req, std::move(st));
      return st.ok();
    }
    signing_.send(
        p->cfg, std::move(req), tokens_.roots, std::move(answer),
        [this, p](Request&& r, Responder a) { send_to_peer(p, std::move(r), std::move(a)); },
        [this, p](Request& r, Status st) { refuse(p, r, std::move(st)); });
    return false;
  }
  if (to_peer) {  // relayed by this router
    if (route.target_peer && route.target_peer->countersign) {
      signing_.countersign_answers(p->cfg, answer);
      if (req.stream) signing_.countersign_stream_answers(p->cfg, answer);  // trailer receipts
    }
    return true;
  }
  // Another node's message to this node (a local service, the diag echo, a remote push).
  if (p->to_queue && req.iface != Interface::kInvoke) {
    drop_statement();
    return true;
  }
  // The gateway answers ptp/diag/echo and ptp/diag/hop itself and nothing reaches a
  // service: an unsigned probe (ptpctl diagnose) is answered; a signed one is checked.
  if (route.kind == RouteDecision::Kind::kDiag &&
      !req.env.meta.contains(std::string(kSignatureHeader)))
    return true;
  if (req.stream) {  // checked before its end reaches the service
    if (route.kind != RouteDecision::Kind::kLocalService) {
      drop_statement();
      return true;
    }
    Status st = signing_.receive_stream(p->cfg, req, tokens_.roots, answer);
    if (!st.ok()) refuse(p, req, std::move(st));
    return st.ok();
  }
  if (Status st = signing_.receive(p->cfg, req, tokens_.roots, answer); !st.ok()) {
    refuse(p, req, std::move(st));
    return false;
  }
  return true;
}

void Pipeline::send_to_peer(const std::shared_ptr<Pending>& p, Request&& req, Responder answer) {
  const Config* cfg = p->cfg.get();
  // This node's own request to a signature-mode target: its container's token was
  // checked above; the target gets one signed with this node's key. A permit this node
  // holds from the target goes with it.
  if (req.env.header.source_node_id == cfg->node_id) {
    if (Status st = minted_.apply(*cfg, req.env.header, unix_now()); !st.ok())
      return refuse(p, req, std::move(st));
    if (permits_ && permits_->holds_any())
      attach_held_permit(*permits_->held(), req.env, unix_now());
  }
  auto& path = req.env.meta[std::string(kRoutePathKey)];
  path += path.empty() ? cfg->node_id : "," + cfg->node_id;
  Forwarder fwd(h2_, h1_, *cfg);
  UpstreamTarget target = target_for_peer(*p->decision.next_hop, req.iface);
  fwd.forward(std::move(req), target, std::move(answer));
}

}  // namespace ptp
