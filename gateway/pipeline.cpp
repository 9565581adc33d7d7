#include "gateway/pipeline.h"

#include <openssl/rand.h>

#include <chrono>

#include "codecs/validate.h"
#include "gateway/diag_service.h"
#include "gateway/json_log.h"
#include "gateway/metrics.h"
#include "gateway/queue_service.h"
#include "gateway/route_table.h"
#include "gateway/token.h"

namespace ptp {
namespace {

std::vector<std::string> split_path(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto pos = s.find(',');
    auto part = s.substr(0, pos);
    if (!part.empty()) out.emplace_back(part);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool is_queue_interface(Interface i) {
  return i == Interface::kPush || i == Interface::kPop || i == Interface::kPeek ||
         i == Interface::kRelease;
}

std::string new_trace_id() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

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

Status Pipeline::admit(const Config& cfg, Request& req) {
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
  auto path = split_path(req.env.meta[std::string(kRoutePathKey)]);
  for (const auto& n : path)
    if (n == cfg.node_id)
      return Status::Error(Code::kLoop, "routing loop: request already crossed this node (path " +
                                            req.env.meta[std::string(kRoutePathKey)] + ")");
  if (path.size() >= cfg.limits.max_hops)
    return Status::Error(Code::kLoop, "hop limit " + std::to_string(cfg.limits.max_hops) +
                                          " reached (path " +
                                          req.env.meta[std::string(kRoutePathKey)] + ")");
  return verify_token(cfg.auth, h, unix_now());
}

void Pipeline::dispatch(Request req, Responder done) {
  ConfigPtr cfg = store_.current();
  const auto start = std::chrono::steady_clock::now();
  const uint64_t bytes_in = req.env.body.size();
  LogFields lf;
  auto finish = [this, cfg, start, bytes_in, iface = req.iface, wire = req.wire,
                 done = std::move(done)](Response r, const std::string& route, LogFields f) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r.env.status.hop.empty() && !r.env.status.ok()) r.env.status.hop = cfg->node_id;
    if (r.env.header.trace_id.empty()) r.env.header.trace_id = f.trace_id;
    metrics_.request_done(route, interface_name(iface), wire_name(wire), r.env.status.code, secs,
                          bytes_in, r.env.body.size());
    f.route = route;
    f.code = r.env.status.code;
    f.duration_ms = secs * 1000;
    f.hop = r.env.status.hop;
    if (!r.env.status.ok()) f.extra.emplace_back("error", r.env.status.message);
    if (log_.enabled(r.env.status.ok() ? LogLevel::kInfo : LogLevel::kWarn))
      log_.log(r.env.status.ok() ? LogLevel::kInfo : LogLevel::kWarn,
               std::string(interface_name(iface)), f);
    done(std::move(r));
  };

  Status st = admit(*cfg, req);
  lf.trace_id = req.env.header.trace_id;
  lf.session_id = req.env.header.session_id;
  lf.source = req.env.header.source_node_id;
  lf.target = req.env.header.target_node_id;
  if (!st.ok()) {
    st.hop = cfg->node_id;
    if (req.stream) req.stream->cancel();
    finish(error_response(std::move(st)), "rejected", lf);
    return;
  }
  if (is_queue_interface(req.iface) ||
      (req.iface == Interface::kInvoke && req.env.header.target_node_id == cfg->node_id &&
       req.env.header.uri == kQueuePushUri)) {
    Responder answer = [finish, lf, trace = req.env.header.trace_id,
                        session = req.env.header.session_id](Response r) mutable {
      if (r.env.header.trace_id.empty()) r.env.header.trace_id = trace;
      if (r.env.header.session_id.empty()) r.env.header.session_id = session;
      finish(std::move(r), "queue", lf);
    };
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
  Responder answer = [finish, route = route.route_name, lf, trace = req.env.header.trace_id,
                      session = req.env.header.session_id](Response r) mutable {
    if (r.env.header.trace_id.empty()) r.env.header.trace_id = trace;
    if (r.env.header.session_id.empty()) r.env.header.session_id = session;
    finish(std::move(r), route, lf);
  };
  switch (route.kind) {
    case RouteDecision::Kind::kDiag:
      answer(diag_echo(req, cfg->node_id));
      return;
    case RouteDecision::Kind::kLocalService: {
      Forwarder fwd(h2_, h1_, cfg->node_id, cfg->limits.max_body_bytes);
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
      auto& p = req.env.meta[std::string(kRoutePathKey)];
      p += p.empty() ? cfg->node_id : "," + cfg->node_id;
      Forwarder fwd(h2_, h1_, cfg->node_id, cfg->limits.max_body_bytes);
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
