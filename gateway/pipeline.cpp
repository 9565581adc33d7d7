#include "gateway/pipeline.h"

#include <chrono>

#include "codecs/validate.h"
#include "gateway/diag_service.h"
#include "gateway/json_log.h"
#include "gateway/metrics.h"
#include "gateway/queue_service.h"
#include "gateway/random_hex.h"
#include "gateway/route_table.h"
#include "gateway/token.h"
#include "gateway/unix_time.h"

namespace ptp {
namespace {

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

}  // namespace

bool is_queue_interface(Interface i) {
  return i == Interface::kPush || i == Interface::kPop || i == Interface::kPeek ||
         i == Interface::kRelease;
}

std::string new_trace_id() { return random_hex(16); }

Pipeline::Pipeline(boost::asio::any_io_executor ex, ConfigStore& store, Metrics& metrics,
                   JsonLog& log, QueueService* queues)
    : ex_(ex),
      store_(store),
      metrics_(metrics),
      log_(log),
      queues_(queues),
      h2_(ex, &metrics),
      h1_(ex) {}

Pipeline::~Pipeline() = default;

Status Pipeline::admit(const ConfigPtr& snapshot, Request& req) {
  const Config& cfg = *snapshot;
  auto& h = req.env.header;
  if (h.trace_id.empty()) h.trace_id = new_trace_id();
  if (is_queue_interface(req.iface)) {
    if (!queues_ || !cfg.queue.enabled)
      return Status::Error(Code::kNotPermitted, std::string("interface ") +
                                                    std::string(interface_name(req.iface)) +
                                                    " is not enabled on this gateway");
    // A container speaks for this node only; the gateway fills in who that is.
    if (h.source_node_id.empty()) h.source_node_id = cfg.node_id;
    if (h.source_inst_id.empty()) h.source_inst_id = cfg.inst_id;
    if (h.source_node_id != cfg.node_id)
      return Status::Error(Code::kForbidden, "a container of node " + cfg.node_id +
                                                 " cannot send as node " + h.source_node_id);
  }
  // A missing token is an authentication failure (403), not a malformed request.
  if (cfg.auth.enabled && h.token.empty())
    return Status::Error(Code::kForbidden, "missing x-ptp-token");
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
  return verify_token(snapshot, h, unix_now(), hmac_, verified_);
}

// One request's bookkeeping from dispatch to its answer, in one allocation: the
// responders handed to the sinks hold just a pointer to it.
struct Pipeline::Pending {
  Pipeline* pipeline;
  ConfigPtr cfg;
  std::chrono::steady_clock::time_point start;
  uint64_t bytes_in;
  Interface iface;
  WireProtocol wire;
  Responder done;
  LogFields lf;
  std::string route;
  bool echo_session = true;

  void finish(Response&& r) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r.env.status.hop.empty() && !r.env.status.ok()) r.env.status.hop = cfg->node_id;
    if (r.env.header.trace_id.empty()) r.env.header.trace_id = lf.trace_id;
    if (echo_session && r.env.header.session_id.empty()) r.env.header.session_id = lf.session_id;
    pipeline->metrics_.request_done(route, interface_name(iface), wire_name(wire),
                                    r.env.status.code, secs, bytes_in, r.env.body.size());
    const LogLevel level = r.env.status.ok() ? LogLevel::kInfo : LogLevel::kWarn;
    if (pipeline->log_.enabled(level)) {
      lf.route = route;
      lf.code = r.env.status.code;
      lf.duration_ms = secs * 1000;
      lf.hop = r.env.status.hop;
      if (!r.env.status.ok()) lf.extra.emplace_back("error", r.env.status.message);
      pipeline->log_.log(level, std::string(interface_name(iface)), lf);
    }
    done(std::move(r));
  }
};

void Pipeline::dispatch(Request&& req, Responder done) {
  auto p = std::make_shared<Pending>();
  p->pipeline = this;
  p->cfg = store_.current();
  p->start = std::chrono::steady_clock::now();
  p->bytes_in = req.env.body.size();
  p->iface = req.iface;
  p->wire = req.wire;
  p->done = std::move(done);
  const Config* cfg = p->cfg.get();

  Status st = admit(p->cfg, req);
  LogFields& lf = p->lf;
  lf.trace_id = req.env.header.trace_id;
  lf.session_id = req.env.header.session_id;
  lf.source = req.env.header.source_node_id;
  lf.target = req.env.header.target_node_id;
  if (!st.ok()) {
    st.hop = cfg->node_id;
    if (req.stream) req.stream->cancel();
    p->route = "rejected";
    p->echo_session = false;  // a rejection names the trace only
    p->finish(error_response(std::move(st)));
    return;
  }
  Responder answer = [p](Response&& r) { p->finish(std::move(r)); };
  if (is_queue_interface(req.iface) ||
      (req.iface == Interface::kInvoke && req.env.header.target_node_id == cfg->node_id &&
       req.env.header.uri == kQueuePushUri)) {
    p->route = "queue";
    if (!queues_ || !cfg->queue.enabled) {
      answer(error_response(
          Status::Error(Code::kNotPermitted, "queues are not enabled on node " + cfg->node_id)));
    } else if (req.iface == Interface::kInvoke) {
      queues_->accept_remote(*cfg, std::move(req), std::move(answer), ex_);
    } else {
      queues_->handle(*cfg, std::move(req), std::move(answer), ex_);
    }
    return;
  }
  RouteDecision route = resolve_route(*cfg, req.env.header);
  if (req.stream) {
    // ptp_active_streams{route} counts a streamed exchange until its request pipe is gone.
    metrics_.stream_opened(route.route_name);
    auto guard = std::shared_ptr<void>(
        nullptr, [m = &metrics_, name = route.route_name](void*) { m->stream_closed(name); });
    req.stream->keep_alive_with(std::move(guard));
  }
  p->route = route.route_name;
  switch (route.kind) {
    case RouteDecision::Kind::kDiag:
      answer(diag_echo(req, cfg->node_id));
      return;
    case RouteDecision::Kind::kLocalService: {
      Forwarder fwd(h2_, h1_, *cfg);
      fwd.forward(std::move(req), target_for_service(*route.service), std::move(answer));
      return;
    }
    case RouteDecision::Kind::kPeer: {
      if (!cfg->router_role && req.env.header.source_node_id != cfg->node_id) {
        answer(error_response(Status::Error(
            Code::kNotPermitted,
            "node " + cfg->node_id + " is an edge gateway and does not relay traffic from " +
                req.env.header.source_node_id + " to " + req.env.header.target_node_id,
            cfg->node_id)));
        return;
      }
      if (route.target_peer && route.target_peer->async_only && queues_ && cfg->queue.enabled) {
        // Reachable only through queues: push, then wait for the reply (docs/queues.md).
        queues_->invoke_async(*cfg, std::move(req), route.next_hop->timeout, std::move(answer),
                              ex_);
        return;
      }
      auto& path = req.env.meta[std::string(kRoutePathKey)];
      path += path.empty() ? cfg->node_id : "," + cfg->node_id;
      Forwarder fwd(h2_, h1_, *cfg);
      UpstreamTarget target = target_for_peer(*route.next_hop, req.iface);
      fwd.forward(std::move(req), target, std::move(answer));
      return;
    }
    case RouteDecision::Kind::kError:
      route.error.hop = cfg->node_id;
      if (req.stream) req.stream->cancel();
      answer(error_response(std::move(route.error)));
      return;
  }
}

}  // namespace ptp
