#include "gateway/diagnose/hop_probe.h"

#include <algorithm>

#include "common/human_bytes.h"
#include "gateway/diagnose/connect_probe.h"
#include "gateway/diagnose/probe_client.h"
#include "gateway/route/route_table.h"

namespace ptp {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kRttEchoes = 5;
constexpr size_t kSmallEcho = 64;
constexpr uint64_t kThroughputEcho = 1 << 20;
constexpr int kBisectSteps = 5;
constexpr milliseconds kEchoTimeout{10000};
constexpr milliseconds kLargeEchoTimeout{20000};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Codes that say the hop could not be reached at all (rather than refused the probe).
bool is_reach_failure(Code c) {
  return c == Code::kUnreachable || c == Code::kTimeout || c == Code::kBadAddress;
}

class PeerProbe {
 public:
  PeerProbe(ProbeLoop& loop, const ConfigPtr& cfg, const HopQuery& q, const PeerConfig& hop,
            HopReport& r)
      : loop_(loop), cfg_(cfg), q_(q), hop_(hop), r_(r), client_(loop, cfg) {}

  void run() {
    if (!connect() || !authenticate() || !round_trips() || !bodies()) return;
    idle();
  }

 private:
  std::string hop_name() const { return r_.from + " -> " + r_.to; }

  bool out_of_time() {
    if (!loop_.over()) return false;
    r_.fail(HopFailure::kProbe, "the probe of " + hop_name() + " did not finish in time");
    return true;
  }

  // An echo of `size` bytes; the answer's status (a short or altered echo is an error).
  Status echo(uint64_t size, milliseconds timeout) {
    std::string body(size, 'd');
    Response resp = client_.invoke(hop_, hop_.node_id, kDiagEchoUri, body, timeout);
    if (!resp.env.status.ok()) return resp.env.status;
    if (resp.env.body != body)
      return Status::Error(Code::kCodecError,
                           "the echo of " + std::to_string(size) + " bytes came back altered (" +
                               std::to_string(resp.env.body.size()) + " bytes)",
                           hop_.node_id);
    return Status::Ok();
  }

  bool connect() {
    boost::asio::ssl::context* tls = nullptr;
    if (hop_.tls.enabled) {
      Status err;
      tls = client_.pool().tls_context(hop_.tls, err);
      if (!tls) {
        r_.tls = HopTls{.used = true, .error = err.message};
        r_.fail(HopFailure::kTls, r_.from + " cannot set up TLS to " + r_.to + ": " + err.message);
        return false;
      }
    }
    ConnectResult c =
        probe_connect(loop_, hop_.endpoint(), tls, hop_.tls.server_name, hop_.connect_timeout);
    r_.connect_ms = c.connect_ms;
    if (c.connect_ms) r_.tls = c.tls ? *c.tls : HopTls{};  // TLS is known once connected
    if (c.error.empty()) return true;
    if (c.tls_failed)
      r_.fail(HopFailure::kTls, "TLS from " + r_.from + " to " + r_.to + " failed: " + c.error);
    else
      r_.fail(HopFailure::kConnect,
              r_.from + " cannot connect to " + r_.to + " at " + r_.address + ": " + c.error);
    return false;
  }

  bool authenticate() {
    Response resp = client_.invoke(hop_, hop_.node_id, kDiagEchoUri, "diagnose", kEchoTimeout);
    const Status& st = resp.env.status;
    HopAuth& a = r_.auth.emplace();
    a.ok = st.ok();
    if (a.ok) return true;
    a.code = code_string(st.code);
    a.message = st.message;
    if (is_reach_failure(st.code))
      r_.fail(HopFailure::kConnect,
              r_.from + " cannot reach " + r_.to + " at " + r_.address + ": " + st.to_string());
    else if (st.code == Code::kBadCertSignature &&
             st.message.find("require_signature") != std::string::npos)
      r_.fail(HopFailure::kAuth, r_.to + " requires signed messages and the probe's echoes from " +
                                     r_.from + " are unsigned: " + st.to_string());
    else
      r_.fail(HopFailure::kAuth, r_.to + " refused the probe of " + r_.from + " (" + r_.from +
                                     "'s token): " + st.to_string());
    return false;
  }

  bool round_trips() {
    double best = -1;
    for (int i = 0; i < kRttEchoes; ++i) {
      const auto t = Clock::now();
      Status st = echo(kSmallEcho, kEchoTimeout);
      if (!st.ok()) return fail_echo("a small echo", st);
      const double ms = ms_since(t);
      best = best < 0 ? ms : std::min(best, ms);
    }
    r_.rtt_ms = best;
    const uint64_t size = std::min<uint64_t>(kThroughputEcho, cap());
    const auto t = Clock::now();
    if (echo(size, kLargeEchoTimeout).ok()) {
      const double secs = std::max(1e-6, ms_since(t) / 1000);
      r_.throughput_mbps = 2.0 * static_cast<double>(size) / secs / 1e6;  // both directions
    }
    return !out_of_time();
  }

  bool fail_echo(const std::string& what, const Status& st) {
    if (out_of_time()) return false;
    r_.fail(is_reach_failure(st.code) ? HopFailure::kConnect : HopFailure::kProbe,
            what + " from " + r_.from + " to " + r_.to + " failed: " + st.to_string());
    return false;
  }

  // The largest body this hop is asked to pass: the origin's, capped by this node's limit.
  uint64_t cap() const {
    return std::max<uint64_t>(1, std::min(q_.max_body, cfg_->limits.max_body_bytes));
  }

  bool bodies() {
    uint64_t ok = 0, refused = 0;
    Status refusal;
    for (uint64_t size = 1024;; size = std::min(size * 4, cap())) {
      size = std::min(size, cap());
      Status st = echo(size, kLargeEchoTimeout);
      if (out_of_time()) return false;
      if (!st.ok()) {
        refused = size;
        refusal = st;
        break;
      }
      ok = size;
      if (size >= cap()) break;
    }
    if (!refused) {
      r_.largest_body = ok;
      return true;
    }
    // Between the last body that passed and the first refused: a few halvings, in KiB.
    for (int i = 0; i < kBisectSteps && refused - ok > 1024; ++i) {
      const uint64_t mid = (ok + (refused - ok) / 2) / 1024 * 1024;
      if (mid <= ok) break;
      Status st = echo(mid, kLargeEchoTimeout);
      if (out_of_time()) return false;
      if (st.ok()) {
        ok = mid;
      } else {
        refused = mid;
        refusal = st;
      }
    }
    r_.largest_body = ok;
    r_.body_refused = HopBodyRefused{refused, code_string(refusal.code), refusal.message};
    const std::string at = refusal.hop.empty() ? r_.to : refusal.hop;
    if (refusal.code == Code::kTooLarge)
      r_.fail(HopFailure::kBody, "body limit " + human_bytes(ok) + " at " + at + " is lower than " +
                                     q_.origin + "'s " + human_bytes(q_.max_body) + " (" +
                                     hop_name() + ": " + human_bytes(refused) +
                                     " refused: " + refusal.to_string() + ")");
    else
      r_.fail(HopFailure::kBody, "a body of " + human_bytes(refused) + " from " + r_.from + " to " +
                                     r_.to + " failed (" + refusal.to_string() +
                                     "); the largest that passed: " + human_bytes(ok));
    return false;
  }

  void idle() {
    if (q_.idle_s <= 0) return;
    HopIdle& i = r_.idle.emplace();
    i.seconds = q_.idle_s;
    if (hop_.protocol == PeerProtocol::kHttp1) {
      i.error = "not measured: an HTTP/1.1 peer";
      return;
    }
    if (Status st = echo(kSmallEcho, kEchoTimeout); !st.ok()) {
      fail_echo("an echo before the idle wait", st);
      return;
    }
    std::shared_ptr<H2ClientSession> conn = client_.connection(hop_);
    if (!conn) {
      i.error = "no HTTP/2 connection open after an echo";
      r_.fail(HopFailure::kProbe, "the idle probe of " + hop_name() + " found no connection");
      return;
    }
    const std::string what = "the connection from " + r_.from + " to " + r_.to + " (" + r_.address +
                             ") did not survive " + std::to_string(q_.idle_s) +
                             " s without traffic: ";
    if (!loop_.sleep(std::chrono::seconds(q_.idle_s))) {
      out_of_time();
      return;
    }
    if (conn->closed()) {
      i.survived = false;
      i.error = "closed while idle (by " + r_.to + " or the path to it)";
      r_.fail(HopFailure::kIdle, what + i.error);
      return;
    }
    Status st = echo(kSmallEcho, milliseconds(5000));
    if (st.ok() && client_.connection(hop_) != conn)
      st = Status::Error(Code::kUnreachable, "the echo went over a new connection");
    i.survived = st.ok();
    if (st.ok()) return;
    i.error = st.to_string();
    r_.fail(HopFailure::kIdle, what + i.error);
  }

  ProbeLoop& loop_;
  const ConfigPtr& cfg_;
  const HopQuery& q_;
  const PeerConfig& hop_;
  HopReport& r_;
  ProbeClient client_;
};

void probe_service(ProbeLoop& loop, const Config& cfg, const HopQuery& q,
                   const LocalServiceConfig& svc, HopReport& r) {
  r.kind = "service";
  r.to = "service " + svc.uri_pattern;
  r.address = svc.address.to_string();
  ConnectResult c = probe_connect(loop, svc.address, nullptr, "", milliseconds(5000));
  r.connect_ms = c.connect_ms;
  if (!c.error.empty())
    r.fail(HopFailure::kService, cfg.node_id + "'s local service for uri '" + q.uri + "' (" +
                                     svc.uri_pattern + " at " + r.address +
                                     "): connect failed: " + c.error);
}

}  // namespace

HopReport probe_hop(ProbeLoop& loop, const ConfigPtr& cfg, const HopQuery& q) {
  HopReport r;
  r.from = cfg->node_id;
  r.max_body = q.max_body;
  if (q.node == cfg->node_id && q.uri.empty()) {  // the node itself, no service: nothing to probe
    r.kind = "service";
    r.to = cfg->node_id;
    return r;
  }
  PtpHeader h;
  h.target_node_id = q.node;
  h.uri = q.uri;
  const RouteDecision d = resolve_route(*cfg, h);
  switch (d.kind) {
    case RouteDecision::Kind::kError:
      r.fail(HopFailure::kRoute,
             "node " + cfg->node_id + " has no route to " + q.node + ": " + d.error.to_string());
      return r;
    case RouteDecision::Kind::kDiag:
      r.kind = "service";
      r.to = "diag";
      r.address = "built-in";
      return r;
    case RouteDecision::Kind::kLocalService:
      probe_service(loop, *cfg, q, *d.service, r);
      return r;
    case RouteDecision::Kind::kPeer:
      break;
  }
  const PeerConfig& hop = *d.next_hop;
  r.to = hop.node_id;
  r.address = hop.endpoint().to_string();  // the address in use (failover)
  r.next = hop.node_id != q.node || !q.uri.empty() ? hop.node_id : "";
  PeerProbe(loop, cfg, q, hop, r).run();
  return r;
}

}  // namespace ptp
