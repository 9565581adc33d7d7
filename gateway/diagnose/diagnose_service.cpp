#include "gateway/diagnose/diagnose_service.h"

#include <boost/asio/post.hpp>
#include <chrono>

#include "gateway/diagnose/hop_probe.h"
#include "gateway/diagnose/hop_report.h"
#include "gateway/diagnose/probe_client.h"
#include "gateway/diagnose/probe_loop.h"
#include "gateway/observability/admin_auth.h"
#include "gateway/route/route_table.h"

namespace ptp {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::seconds budget(const HopQuery& q) {
  return std::chrono::seconds(kProbeBudgetS + q.idle_s);
}

// E0000000700 while a diagnosis runs at this node.
constexpr std::string_view kBusy = "a diagnosis is running";

// A refusal of the in-band probe that is about who asked (token, permission, peering).
bool is_auth_refusal(Code c) {
  return c == Code::kForbidden || c == Code::kBadCertSignature || c == Code::kNotPermitted ||
         c == Code::kCertCheck || c == Code::kPeerDisabled || c == Code::kPeeringExpired;
}

}  // namespace

DiagnoseService::DiagnoseService(ConfigStore& store, JsonLog& log)
    : store_(store), log_(log), worker_([this] { work(); }) {}

DiagnoseService::~DiagnoseService() {
  stop();
  worker_.join();
}

void DiagnoseService::stop() {
  stopping_.store(true);
  std::lock_guard lock(mu_);
  wake_.notify_all();
}

void DiagnoseService::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return job_ || stopping_.load(); });
      if (!job_) return;  // stopping
      job = std::move(job_);
      job_ = nullptr;
    }
    job();  // a job started before stop() still answers (its probe ends at once)
  }
}

bool DiagnoseService::start(std::function<void()> job) {
  std::lock_guard lock(mu_);
  if (busy_ || stopping_.load()) return false;
  busy_ = true;
  job_ = std::move(job);
  wake_.notify_all();
  return true;
}

void DiagnoseService::release() {
  std::lock_guard lock(mu_);
  busy_ = false;
}

void DiagnoseService::admin(AdminRequest req, AdminRespond respond) {
  if (!req.path_rest.empty())
    return respond(404, admin_error_json(Code::kNotFound, "no such admin route"));
  HopQuery q;
  if (Status st = parse_hop_query(req.body, q); !st.ok())
    return respond(400, admin_error_json(st.code, st.message));
  ConfigPtr cfg = store_.current();
  q.origin = cfg->node_id;
  if (q.max_body == 0) q.max_body = cfg->limits.max_body_bytes;
  const bool here = q.from.empty() || q.from == cfg->node_id;
  const bool started = start([this, cfg, q, respond, here] {
    if (!here) {
      auto [status, body] = ask_remote(cfg, q);
      release();
      return respond(status, std::move(body));
    }
    HopReport r;
    {
      ProbeLoop loop(stopping_, Clock::now() + budget(q));
      r = probe_hop(loop, cfg, q);
    }
    release();
    log_.info("diagnose: hop probed", {.target = q.node,
                                       .extra = {{"hop", r.from + " -> " + r.to},
                                                 {"failure", hop_failure_name(r.failure)}}});
    respond(200, hop_report_json(r));
  });
  if (!started) respond(409, admin_error_json(Code::kBufferFull, kBusy));
}

std::pair<unsigned, std::string> DiagnoseService::ask_remote(const ConfigPtr& cfg,
                                                             const HopQuery& q) {
  HopReport r;
  r.from = q.from;
  r.max_body = q.max_body;
  PtpHeader h;
  h.target_node_id = q.from;
  h.uri = std::string(kDiagHopUri);
  const RouteDecision d = resolve_route(*cfg, h);
  if (d.kind != RouteDecision::Kind::kPeer) {
    r.fail(HopFailure::kRoute, "node " + cfg->node_id + " has no route to " + q.from +
                                   " to ask for its hop probe: " + d.error.to_string());
    return {200, hop_report_json(r)};
  }
  // The far probe's own budget, plus time for the way there and back.
  ProbeLoop loop(stopping_, Clock::now() + budget(q) + std::chrono::seconds(5));
  ProbeClient client(loop, cfg);
  Response resp = client.invoke(
      *d.next_hop, q.from, kDiagHopUri, hop_query_body(q),
      std::chrono::duration_cast<std::chrono::milliseconds>(budget(q) + std::chrono::seconds(3)));
  const Status& st = resp.env.status;
  if (st.ok()) return {200, std::move(resp.env.body)};
  if (st.code == Code::kBufferFull && st.message.find(kBusy) != std::string::npos)
    return {409, admin_error_json(st.code, st.message)};
  r.fail(is_auth_refusal(st.code) ? HopFailure::kAuth : HopFailure::kProbe,
         "node " + q.from + " did not answer the hop probe " + cfg->node_id +
             " asked for: " + st.to_string());
  return {200, hop_report_json(r)};
}

void DiagnoseService::serve(ConfigPtr cfg, Request&& req, boost::asio::any_io_executor ex,
                            Responder answer) {
  auto reply = [ex, answer](Response&& resp) mutable {
    boost::asio::post(ex, [answer = std::move(answer), resp = std::move(resp)]() mutable {
      answer(std::move(resp));
    });
  };
  HopQuery q;
  Status st = req.iface != Interface::kInvoke || req.stream
                  ? Status::Error(Code::kBadRequest, "ptp/diag/hop takes a unary invoke")
                  : parse_hop_query(req.env.body, q);
  if (!st.ok()) {
    st.hop = cfg->node_id;
    return answer(error_response(std::move(st)));
  }
  q.from.clear();
  q.origin = req.env.header.source_node_id;
  if (q.max_body == 0) q.max_body = cfg->limits.max_body_bytes;
  const bool started = start([this, cfg, q, reply]() mutable {
    HopReport r;
    {
      ProbeLoop loop(stopping_, Clock::now() + budget(q));
      r = probe_hop(loop, cfg, q);
    }
    release();
    log_.info(
        "diagnose: hop probed for another node",
        {.source = q.origin,
         .target = q.node,
         .extra = {{"hop", r.from + " -> " + r.to}, {"failure", hop_failure_name(r.failure)}}});
    Response resp;
    resp.env.body = hop_report_json(r);
    resp.env.content_type = "application/json";
    reply(std::move(resp));
  });
  if (!started)
    answer(error_response(Status::Error(
        Code::kBufferFull, std::string(kBusy) + " at node " + cfg->node_id, cfg->node_id)));
}

}  // namespace ptp
