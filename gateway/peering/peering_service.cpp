#include "gateway/peering/peering_service.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "codecs/json_depth.h"
#include "common/unix_time.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/observability/json_log.h"
#include "gateway/peering/json_fields.h"
#include "gateway/peering/overlay.h"
#include "gateway/peering/peering_client.h"
#include "trust/invitation.h"

namespace ptp {
namespace {

using Json = nlohmann::json;

constexpr size_t kAdminDepth = 8;
constexpr int64_t kMaxRenewDays = 36500;

unsigned admin_http_status(Code c) {
  switch (c) {
    case Code::kOk:
      return 200;
    case Code::kBadRequest:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kTooLarge:
      return 413;
    case Code::kNotPermitted:
    case Code::kForbidden:
    case Code::kBadCertSignature:
    case Code::kAuthCodeExpired:
    case Code::kPeeringExpired:
    case Code::kPeerDisabled:
      return 403;
    case Code::kBufferFull:
      return 503;
    case Code::kUnreachable:
    case Code::kTimeout:
      return 502;
    default:
      return 500;
  }
}

// A JSON object from an admin body, or the reason it is not one.
bool admin_object(const std::string& body, Json& out, Status& why) {
  if (!json_depth_within(body, kAdminDepth)) {
    why = Status::Error(Code::kBadRequest, "body nested too deeply");
    return false;
  }
  out = body.empty() ? Json::object() : Json::parse(body, nullptr, false);
  if (out.is_discarded() || !out.is_object()) {
    why = Status::Error(Code::kBadRequest, "body is not a JSON object");
    return false;
  }
  return true;
}

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Json peer_json(const PeerConfig& p, const PeerRecord* rec, AuthMode default_mode, int64_t now) {
  const bool expired = p.dynamic && p.expires_at > 0 && p.expires_at < now;
  std::string state = p.dynamic ? std::string(peer_state_name(p.state)) : "active";
  if (expired) state = "expired";
  Json o{{"node_id", p.node_id},
         {"inst_id", p.inst_id},
         {"source", p.dynamic ? "dynamic" : "yaml"},
         {"state", state},
         {"expires_at", p.expires_at},
         // The address traffic goes to now (with several: the failover's choice).
         {"address", p.address ? p.endpoint().to_string() : std::string()},
         {"via", p.via},
         {"auth", std::string(auth_mode_name(p.auth_mode.value_or(default_mode)))},
         {"root_fp", rec && !rec->root_fp.empty() ? "sha256:" + rec->root_fp : std::string()},
         {"tls", p.tls.enabled}};
  if (!p.addresses.empty()) o["addresses"] = p.address_texts();
  return o;
}

}  // namespace

std::string admin_error_json(const Status& st) {
  Json o{{"code", code_string(st.code)},
         {"message", st.message.empty() ? std::string(describe(st.code)) : st.message}};
  return o.dump();
}

PeeringService::PeeringService(ConfigStore& config, std::unique_ptr<PeerStore> store,
                               HandshakeCrypto crypto, JsonLog& log)
    : config_(config),
      store_(std::move(store)),
      crypto_(std::move(crypto)),
      log_(log),
      work_(ioc_.get_executor()) {}

void PeeringService::audit(
    std::string_view event, std::string_view node,
    std::initializer_list<std::pair<std::string_view, std::string_view>> more) {
  if (!evidence_) return;
  std::vector<std::pair<std::string, std::string>> fields{{"event", std::string(event)},
                                                          {"node", std::string(node)}};
  for (const auto& [k, v] : more) fields.emplace_back(k, v);
  evidence_->append("audit", fields);
}

PeeringService::~PeeringService() {
  stop();
  // The overlay reads this service's table: it goes with it.
  config_.set_overlay(nullptr);
}

int64_t PeeringService::now() const { return unix_now(); }

void PeeringService::start() {
  if (started_) return;
  started_ = true;
  PeerStore* store = store_.get();
  if (ConfigPtr base = config_.base())
    for (const std::string& why : peer_records_left_out(*base, store->records()))
      log_.warn("peering: a recorded peer is left out under crypto: gm",
                {.extra = {{"reason", why}}});
  config_.set_overlay(
      [store](const ConfigPtr& base) { return overlay_peers(base, store->records()); });
  store_->set_on_change([this] { config_.republish(); });
  thread_ = std::thread([this] { ioc_.run(); });
}

void PeeringService::stop() {
  if (!started_) return;
  started_ = false;
  store_->set_on_change(nullptr);
  work_.reset();
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

void PeeringService::serve(Interface iface, std::string body, boost::asio::any_io_executor reply_ex,
                           Responder done) {
  if (pending_handshakes_.fetch_add(1, std::memory_order_relaxed) >= kMaxPendingHandshakes) {
    pending_handshakes_.fetch_sub(1, std::memory_order_relaxed);
    Response r;
    r.env.status = Status::Error(Code::kBufferFull, "too many peering handshakes in progress (" +
                                                        std::to_string(kMaxPendingHandshakes) +
                                                        "); retry later");
    boost::asio::post(reply_ex,
                      [r = std::move(r), done = std::move(done)]() mutable { done(std::move(r)); });
    return;
  }
  boost::asio::post(
      ioc_, [this, iface, body = std::move(body), reply_ex, done = std::move(done)]() mutable {
        pending_handshakes_.fetch_sub(1, std::memory_order_relaxed);
        ConfigPtr cfg = config_.base();
        Response r;
        if (iface == Interface::kWeave) {
          WeaveResult w = accept_weave(*cfg, *store_, crypto_, body, now());
          r.env.status = w.status;
          r.env.body = std::move(w.answer);
          if (w.status.ok()) {
            log_.info("peering: weave accepted",
                      {.source = w.record.node_id,
                       .extra = {{"state", std::string(peer_state_name(w.record.state))},
                                 {"root_fp", w.record.root_fp}}});
            audit("peer_joined", w.record.node_id,
                  {{"state", peer_state_name(w.record.state)}, {"root_fp", w.record.root_fp}});
            if (w.record.state == PeerState::kActive) send_ack(w.record, w.code, 0);
          } else {
            log_refusal("peering: weave refused", w.status);
          }
        } else {
          std::string answer;
          r.env.status = accept_ack(*cfg, *store_, crypto_, body, now(), answer);
          r.env.body = std::move(answer);
          if (!r.env.status.ok())
            log_refusal("peering: ack refused", r.env.status);
          else
            log_.info("peering: ack accepted");
        }
        if (r.env.status.ok()) r.env.content_type = "application/json";
        if (r.env.status.ok()) r.extra_headers.emplace_back("content-type", "application/json");
        boost::asio::post(
            reply_ex, [r = std::move(r), done = std::move(done)]() mutable { done(std::move(r)); });
      });
}

void PeeringService::log_refusal(const char* what, const Status& st) {
  uint64_t suppressed = 0;
  if (!refusal_log_.allow(suppressed)) return;
  // The message quotes the body's node_id, which may be as long as the body.
  log_.warn(what, {.extra = {{"error", clip_log_value(st.to_string(), 256)},
                             {"suppressed", std::to_string(suppressed)}}});
}

void PeeringService::send_ack(PeerRecord joiner, std::string code, int attempt) {
  auto ep = parse_endpoint(joiner.address);
  if (!ep) {
    log_.warn("peering: no address to ack", {.target = joiner.node_id});
    return;
  }
  ConfigPtr cfg = config_.base();
  PeeringCall call;
  call.address = *ep;
  call.path = "/v1/interconn/net/ack";
  call.body =
      route_body_json(make_ack_body(*cfg, crypto_, joiner.node_id, code, joiner.expires_at));
  call.expect_node = joiner.node_id;
  call.root_fp = joiner.root_fp;
  call.timeout = std::chrono::seconds(10);
  post_peering_call(ioc_, std::move(call), [this, joiner, code, attempt](Status st, std::string) {
    if (st.ok()) {
      log_.info("peering: ack delivered", {.target = joiner.node_id});
      return;
    }
    log_.warn("peering: ack not delivered",
              {.target = joiner.node_id,
               .extra = {{"error", st.to_string()}, {"attempt", std::to_string(attempt + 1)}}});
    // Refused for good (a code, not a transport failure): no retry.
    const bool transport =
        st.code == Code::kUnreachable || st.code == Code::kTimeout || st.code == Code::kUnknown;
    if (!transport || attempt + 1 >= kAckAttempts) return;
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, kAckFirstRetry * (1 << attempt));
    timer->async_wait([this, timer, joiner, code, attempt](const boost::system::error_code& ec) {
      if (!ec) send_ack(joiner, code, attempt + 1);
    });
  });
}

void PeeringService::admin(PeeringAdminRequest req, PeeringAdminRespond respond) {
  boost::asio::post(ioc_, [this, req = std::move(req), respond = std::move(respond)] {
    handle_admin(req, respond);
  });
}

void PeeringService::handle_admin(const PeeringAdminRequest& req,
                                  const PeeringAdminRespond& respond) {
  auto fail = [&](Status st) { respond(admin_http_status(st.code), admin_error_json(st)); };
  const std::string& path = req.path;
  if (req.method == "GET" && (path == "/peers" || path == "/peers/")) return peers(respond);
  if (req.method == "POST" && path == "/peers/invite") return invite(req.body, respond);
  if (req.method == "POST" && path == "/peers/join") return join(req.body, respond);
  if (req.method == "POST" && path == "/v1/interconn/net/refresh")
    return net_refresh(req.body, respond);
  if (req.method == "POST" && path == "/v1/interconn/node/refresh")
    return node_refresh(req.body, respond);
  constexpr std::string_view kPeers = "/peers/";
  if (path.starts_with(kPeers)) {
    std::string rest = path.substr(kPeers.size());
    auto slash = rest.find('/');
    std::string id = rest.substr(0, slash);
    std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (req.method == "DELETE" && action.empty())
      return peer_action(id, "remove", req.body, respond);
    if (req.method == "POST" && !action.empty()) return peer_action(id, action, req.body, respond);
  }
  fail(Status::Error(Code::kNotFound, "no peer route " + req.method + " " + path.substr(0, 200)));
}

void PeeringService::peers(const PeeringAdminRespond& respond) {
  ConfigPtr cfg = config_.current();
  const auto records = store_->records();
  const int64_t t = now();
  Json list = Json::array();
  for (const auto& p : cfg->peers) {
    const PeerRecord* rec = nullptr;
    for (const auto& r : records)
      if (r.node_id == p.node_id && p.dynamic) rec = &r;
    list.push_back(peer_json(p, rec, cfg->auth.mode, t));
  }
  // Pending records are not routed, so not in the snapshot: listed from the store.
  for (const auto& r : records) {
    if (r.state != PeerState::kPending || find_peer(*cfg, r.node_id)) continue;
    list.push_back(Json{{"node_id", r.node_id},
                        {"inst_id", r.inst_id},
                        {"source", "dynamic"},
                        {"state", "pending"},
                        {"expires_at", r.expires_at},
                        {"address", r.address},
                        {"via", ""},
                        {"auth", std::string(auth_mode_name(r.auth_mode))},
                        {"root_fp", "sha256:" + r.root_fp},
                        {"tls", true}});
  }
  Json out{{"node_id", cfg->node_id}, {"root_fp", "sha256:" + crypto_.root_fp}, {"peers", list}};
  respond(200, out.dump());
}

void PeeringService::invite(const std::string& body, const PeeringAdminRespond& respond) {
  auto fail = [&](Status st) { respond(admin_http_status(st.code), admin_error_json(st)); };
  Json o;
  Status why;
  if (!admin_object(body, o, why)) return fail(why);
  ConfigPtr cfg = config_.base();
  const std::string b = json_string_field(o, "node_id");
  if (!valid_node_id(b))
    return fail(Status::Error(Code::kBadRequest,
                              "node_id: expected a node id, got '" + b.substr(0, 64) + "'"));
  if (b == cfg->node_id)
    return fail(Status::Error(Code::kBadRequest, "node_id: " + b + " is this node"));
  if (find_peer(*cfg, b))
    return fail(Status::Error(Code::kNotPermitted, "node " + b +
                                                       " is a configured peer of this node "
                                                       "(cannot shadow a configured peer)"));
  int64_t ttl = cfg->peering.invitation_ttl_s;
  if (o.contains("ttl_s")) {
    if (!o["ttl_s"].is_number_integer() || o["ttl_s"].get<int64_t>() < 1 ||
        o["ttl_s"].get<int64_t>() > 30 * 86400)
      return fail(
          Status::Error(Code::kBadRequest, "ttl_s: expected whole seconds from 1 to 2592000"));
    ttl = o["ttl_s"].get<int64_t>();
  }
  if (crypto_.address.empty())
    return fail(Status::Error(Code::kNotPermitted,
                              "this node has no identity with an address (identity.dir, "
                              "identity.json's address): nobody could reach it to join"));
  const int64_t t = now();
  Invitation inv;
  inv.code = new_invitation_code();
  inv.inviter = cfg->node_id;
  inv.inviter_inst = cfg->inst_id;
  inv.address = crypto_.address;
  inv.root_fp = crypto_.root_fp;
  inv.joiner = b;
  inv.expire_at = t + ttl;
  if (Status st = store_->add_invitation({inv.code, b, t, inv.expire_at, false}, t); !st.ok())
    return fail(st);
  log_.info("peering: invitation issued",
            {.target = b, .extra = {{"expire_at", std::to_string(inv.expire_at)}}});
  audit("peer_invited", b, {{"expire_at", std::to_string(inv.expire_at)}});
  respond(200,
          Json{{"invitation", encode_invitation(inv)}, {"expire_at", inv.expire_at}, {"node_id", b}}
              .dump());
}

void PeeringService::join(const std::string& body, const PeeringAdminRespond& respond) {
  auto fail = [respond](Status st) { respond(admin_http_status(st.code), admin_error_json(st)); };
  Json o;
  Status why;
  if (!admin_object(body, o, why)) return fail(why);
  ConfigPtr cfg = config_.base();
  std::string why_not;
  auto decoded = decode_invitation(json_string_field(o, "invitation"), why_not);
  if (!decoded) return fail(Status::Error(Code::kBadRequest, "invitation: " + why_not));
  const Invitation& inv = *decoded;
  const int64_t t = now();
  if (inv.joiner != cfg->node_id)
    return fail(Status::Error(Code::kBadRequest, "the invitation is for node " + inv.joiner +
                                                     ", not this node (" + cfg->node_id + ")"));
  if (inv.expire_at < t)
    return fail(Status::Error(Code::kAuthCodeExpired, "the invitation from " + inv.inviter +
                                                          " has expired; ask for a new one"));
  if (find_peer(*cfg, inv.inviter))
    return fail(Status::Error(Code::kNotPermitted, "node " + inv.inviter +
                                                       " is a configured peer of this node "
                                                       "(cannot shadow a configured peer)"));
  auto ep = parse_endpoint(inv.address);
  if (!ep)
    return fail(Status::Error(Code::kBadRequest,
                              "the invitation's address is not host:port: " + inv.address));
  if (crypto_.root_pem.empty())
    return fail(Status::Error(Code::kNotPermitted,
                              "this node has no identity (identity.dir): it cannot join"));
  if (Status st = store_->add_join(
          {inv.inviter, inv.inviter_inst, inv.address, inv.root_fp, inv.code, t, inv.expire_at}, t);
      !st.ok())
    return fail(st);
  PeeringCall call;
  call.address = *ep;
  call.path = "/v1/interconn/net/weave";
  call.body = route_body_json(make_weave_body(*cfg, crypto_, inv.inviter, inv.code, t));
  call.expect_node = inv.inviter;
  call.root_fp = inv.root_fp;
  call.timeout = std::chrono::seconds(15);
  const std::string inviter = inv.inviter;
  const std::string root_fp = inv.root_fp;
  post_peering_call(ioc_, std::move(call),
                    [this, respond, fail, inviter, root_fp](Status st, std::string answer) {
                      if (!st.ok()) {
                        log_.warn("peering: weave refused by " + inviter,
                                  {.target = inviter, .extra = {{"error", st.to_string()}}});
                        return fail(st);
                      }
                      Json a = Json::parse(answer, nullptr, false);
                      std::string state = a.is_object() ? json_string_field(a, "state") : "";
                      // The ack may have arrived already.
                      auto rec = store_->find(inviter);
                      if (rec && rec->state == PeerState::kActive)
                        state = "active";
                      else if (state == "active")
                        state = "pending-ack";
                      log_.info("peering: weave accepted by " + inviter, {.target = inviter});
                      audit("peer_joined", inviter, {{"state", state}, {"root_fp", root_fp}});
                      respond(200, Json{{"node_id", inviter}, {"state", state}}.dump());
                    });
}

void PeeringService::peer_action(const std::string& node_id, const std::string& action,
                                 const std::string& body, const PeeringAdminRespond& respond) {
  auto fail = [&](Status st) { respond(admin_http_status(st.code), admin_error_json(st)); };
  auto rec = store_->find(node_id);
  if (!rec) {
    ConfigPtr cfg = config_.base();
    if (find_peer(*cfg, node_id))
      return fail(Status::Error(
          Code::kNotPermitted,
          "node " + node_id + " is a peer of the configuration file: change it there"));
    return fail(Status::Error(Code::kNotFound, "no dynamic peer " + node_id));
  }
  Status st;
  if (action == "remove") {
    st = store_->remove(node_id);
  } else if (action == "disable") {
    st = store_->set_state(node_id, PeerState::kDisabled);
  } else if (action == "enable") {
    if (rec->state == PeerState::kPending)
      return fail(Status::Error(Code::kBadRequest, "peer " + node_id + " is pending: approve it"));
    st = store_->set_state(node_id, PeerState::kActive);
  } else if (action == "approve") {
    if (rec->state != PeerState::kPending)
      return fail(Status::Error(Code::kBadRequest, "peer " + node_id + " is not pending"));
    st = store_->set_state(node_id, PeerState::kActive);
    if (st.ok()) {
      auto inv = store_->invitation_for(node_id);
      if (inv && inv->used) {
        rec->state = PeerState::kActive;
        send_ack(*rec, inv->code, 0);
      }
    }
  } else if (action == "renew") {
    Json o;
    Status why;
    if (!admin_object(body, o, why)) return fail(why);
    ConfigPtr cfg = config_.base();
    int64_t secs = cfg->peering.expiry_seconds();
    if (o.contains("days")) {
      if (!o["days"].is_number_integer() || o["days"].get<int64_t>() < -kMaxRenewDays ||
          o["days"].get<int64_t>() > kMaxRenewDays)
        return fail(Status::Error(Code::kBadRequest, "days: expected whole days up to 36500"));
      secs = o["days"].get<int64_t>() * 86400;
    }
    if (o.contains("seconds")) {
      if (!o["seconds"].is_number_integer())
        return fail(Status::Error(Code::kBadRequest, "seconds: expected whole seconds"));
      secs = o["seconds"].get<int64_t>();
    }
    st = store_->set_expiry(node_id, now() + secs);
  } else {
    return fail(Status::Error(Code::kNotFound, "no peer action '" + action.substr(0, 32) +
                                                   "' (disable, enable, approve, renew)"));
  }
  if (!st.ok()) return fail(st);
  log_.info("peering: peer " + action, {.target = node_id});
  auto after = store_->find(node_id);
  audit("peer_" + action + (action.back() == 'e' ? "d" : "ed"), node_id,
        {{"state", after ? peer_state_name(after->state) : "removed"},
         {"expires_at", std::to_string(after ? after->expires_at : 0)}});
  Json out{{"node_id", node_id},
           {"state", after ? std::string(peer_state_name(after->state)) : "removed"},
           {"expires_at", after ? after->expires_at : 0}};
  respond(200, out.dump());
}

void PeeringService::net_refresh(const std::string& body, const PeeringAdminRespond& respond) {
  auto fail = [&](Status st) { respond(admin_http_status(st.code), admin_error_json(st)); };
  RouteBody r;
  if (Status st = parse_route_body(body, r); !st.ok()) {
    if (st.message.starts_with("weave refused"))
      st.message = "refresh refused" + st.message.substr(std::string_view("weave refused").size());
    return fail(st);
  }
  ConfigPtr cfg = config_.base();
  if (!valid_node_id(r.node_id) || r.node_id == cfg->node_id)
    return fail(Status::Error(Code::kBadRequest, "node_id: not another node's id"));
  if (find_peer(*cfg, r.node_id))
    return fail(Status::Error(Code::kNotPermitted, "node " + r.node_id +
                                                       " is a configured peer of this node "
                                                       "(cannot shadow a configured peer)"));
  if (!parse_endpoint(r.address))
    return fail(Status::Error(Code::kBadRequest, "address: expected host:port"));
  if (Status st = crypto_.check_certificates(r.host_root, r.host_root, r.node_id); !st.ok())
    return fail(Status::Error(Code::kBadCertSignature, "host_root: " + st.message));
  const int64_t t = now();
  PeerRecord rec;
  rec.node_id = r.node_id;
  rec.inst_id = r.inst_id;
  rec.name = r.name;
  rec.inst_name = r.inst_name;
  rec.address = r.address;
  rec.root_pem = r.host_root;
  rec.root_fp = crypto_.fingerprint(r.host_root);
  rec.state = PeerState::kActive;
  rec.created_at = t;
  rec.expires_at = r.expire_at > t ? r.expire_at : t + cfg->peering.expiry_seconds();
  rec.origin = "refresh";
  if (Status st = store_->put(rec); !st.ok()) return fail(st);
  respond(200, ok_answer_json(Json{{"node_id", rec.node_id}}.dump()));
}

void PeeringService::node_refresh(const std::string& body, const PeeringAdminRespond& respond) {
  auto fail = [&](Status st) { respond(admin_http_status(st.code), admin_error_json(st)); };
  Json o;
  Status why;
  if (!admin_object(body, o, why)) return fail(why);
  for (const char* key :
       {"host_key", "guest_key", "host_root", "host_crt", "guest_root", "guest_crt"}) {
    auto it = o.find(key);
    if (it != o.end() && !(it->is_string() && it->get<std::string>().empty()) && !it->is_null())
      return fail(Status::Error(
          Code::kBadRequest,
          std::string("node/refresh refused: ") + key +
              " is not written here; this node's keys and certificates come from its identity "
              "directory (ptpctl identity), and a private key never leaves its node"));
  }
  ConfigPtr cfg = config_.base();
  const std::string id = json_string_field(o, "node_id"), inst = json_string_field(o, "inst_id");
  if (!id.empty() && id != cfg->node_id)
    return fail(Status::Error(
        Code::kBadRequest,
        "node_id " + id + " is not this node (" + cfg->node_id + "); it comes from node.node_id"));
  if (!inst.empty() && inst != cfg->inst_id)
    return fail(Status::Error(Code::kBadRequest,
                              "inst_id " + inst + " is not this node's (" + cfg->inst_id + ")"));
  const std::string address = json_string_field(o, "address");
  if (!address.empty() && !parse_endpoint(address))
    return fail(Status::Error(Code::kBadRequest, "address: expected host:port"));
  if (!address.empty()) crypto_.address = address;  // announced from now on (peering thread)
  respond(200,
          ok_answer_json(Json{{"node_id", cfg->node_id}, {"address", crypto_.address}}.dump()));
}

}  // namespace ptp
