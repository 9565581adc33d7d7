#include "gateway/diagnose/probe_client.h"

#include <optional>

#include "common/random_hex.h"
#include "common/token.h"
#include "common/unix_time.h"
#include "gateway/forward/forwarder.h"
#include "gateway/route/route_path.h"

namespace ptp {
namespace {

constexpr int64_t kTokenTtlS = 300;

}  // namespace

ProbeClient::ProbeClient(ProbeLoop& loop, ConfigPtr cfg)
    : loop_(loop),
      cfg_(std::move(cfg)),
      h2_(loop.executor(), nullptr),
      h1_(loop.executor(), {}),
      session_("diag-" + random_hex(8)) {}

ProbeClient::~ProbeClient() = default;

Status ProbeClient::own_token(PtpHeader& h) {
  const Config& cfg = *cfg_;
  // x-ptp-token is a required field: without token checks here (auth.enabled: false, the
  // hop proven by mTLS) the probe carries this placeholder; a peer that checks tokens
  // refuses it, which the report names as an auth failure, as it would A's requests.
  if (!cfg.auth.enabled) {
    h.token = "unauthenticated-diagnose-probe";
    return Status::Ok();
  }
  if (auth_mode_for(cfg, h.target_node_id) == AuthMode::kSignature)
    return tokens_.apply(cfg, h, unix_now());
  auto key = cfg.auth.node_keys.find(cfg.node_id);
  if (key == cfg.auth.node_keys.end())
    return Status::Error(Code::kForbidden,
                         "node " + cfg.node_id +
                             " has no key of its own in auth.node_keys to "
                             "authenticate its probe to node " +
                             h.target_node_id,
                         cfg.node_id);
  h.token = mint_token(key->second, cfg.node_id, h.target_node_id, h.session_id,
                       unix_now() + kTokenTtlS, cfg.auth.token_mac);
  return Status::Ok();
}

Response ProbeClient::invoke(const PeerConfig& hop, const std::string& target, std::string_view uri,
                             std::string body, std::chrono::milliseconds timeout) {
  Request req;
  req.iface = Interface::kInvoke;
  req.wire = WireProtocol::kHttp2;
  PtpHeader& h = req.env.header;
  h.version = "1";
  h.tech_provider_code = "PTPGW";
  h.trace_id = new_trace_id();
  h.session_id = session_;
  h.uri = std::string(uri);
  h.source_node_id = cfg_->node_id;
  h.source_inst_id = cfg_->inst_id;
  h.target_node_id = target;
  if (Status st = own_token(h); !st.ok()) return error_response(std::move(st));
  req.env.meta[std::string(kRoutePathKey)] = cfg_->node_id;
  req.env.body = std::move(body);
  req.env.content_type = "application/octet-stream";
  UpstreamTarget t = target_for_peer(hop, Interface::kInvoke);
  t.timeout = timeout;
  t.keepalive = std::chrono::milliseconds(0);  // no PINGs: an idle connection stays idle
  // The answer may come after this call gave up (deadline): it then lands in `out` alone.
  auto out = std::make_shared<std::optional<Response>>();
  Forwarder(h2_, h1_, *cfg_).forward(std::move(req), t, [out](Response&& r) {
    *out = std::move(r);
  });
  if (!loop_.run_until([&] { return out->has_value(); }))
    return error_response(Status::Error(
        Code::kTimeout,
        "the diagnosis ran out of time waiting for node " + hop.node_id + " to answer",
        cfg_->node_id));
  return std::move(**out);
}

std::shared_ptr<H2ClientSession> ProbeClient::connection(const PeerConfig& hop) {
  if (hop.protocol == PeerProtocol::kHttp1 || !hop.address) return nullptr;
  const UpstreamTarget t = target_for_peer(hop, Interface::kInvoke);
  if (!h2_.ready(t.endpoint, t.tls)) return nullptr;
  std::shared_ptr<H2ClientSession> s;
  // With a usable connection open, get() answers at once.
  h2_.get(t.name, t.endpoint, t.tls, t.connect_timeout, std::chrono::milliseconds(0),
          [&s](std::shared_ptr<H2ClientSession> got, Status) { s = std::move(got); });
  return s;
}

}  // namespace ptp
