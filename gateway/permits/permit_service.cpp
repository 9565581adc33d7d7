#include "gateway/permits/permit_service.h"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "codecs/json_depth.h"
#include "common/random_hex.h"
#include "common/unix_time.h"
#include "gateway/observability/admin_auth.h"
#include "gateway/permits/permit_checker.h"
#include "trust/certificate.h"

namespace ptp {
namespace {

using Json = nlohmann::json;

// Bounds of an issued permit's lifetime: at least a second, at most ten years.
constexpr int64_t kDefaultValidS = 86400;
constexpr int64_t kMaxValidS = 10ll * 366 * 86400;

std::string error_json(const Status& st) {
  return admin_error_json(st.code, st.message.empty() ? describe(st.code) : st.message);
}

Json payload_json(const PermitPayload& p) {
  return Json{{"id", p.id},
              {"holder", p.holder},
              {"holder_inst", p.holder_inst},
              {"grantee", p.grantee},
              {"grantee_inst", p.grantee_inst},
              {"type", p.type},
              {"resource", p.resource},
              {"level", p.level},
              {"not_before", p.not_before},
              {"not_after", p.not_after},
              {"uses", p.uses}};
}

// An optional integer member in [lo, hi]: false (with `error`) when present and not.
bool integer_member(const Json& o, const char* key, int64_t lo, int64_t hi, int64_t& out,
                    std::string& error) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi) {
    error = std::string(key) + ": expected a whole number from " + std::to_string(lo) + " to " +
            std::to_string(hi);
    return false;
  }
  out = it->get<int64_t>();
  return true;
}

std::string string_member(const Json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<Json> parse_body(const std::string& body, const PermitAdminRespond& respond) {
  Json j = json_depth_within(body, 4) ? Json::parse(body, nullptr, false) : Json();
  if (j.is_discarded() || !j.is_object()) {
    respond(400, error_json(Status::Error(Code::kBadRequest, "expected a JSON object body")));
    return std::nullopt;
  }
  return j;
}

}  // namespace

PermitService::PermitService(ConfigStore& config, std::unique_ptr<PermitStore> store, NodeKey key,
                             PublicKey own_key, JsonLog& log)
    : config_(config),
      store_(std::move(store)),
      key_(std::move(key)),
      own_key_(std::move(own_key)),
      log_(log),
      work_(ioc_.get_executor()) {
  publish_held();
}

PermitService::~PermitService() { stop(); }

void PermitService::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { ioc_.run(); });
}

void PermitService::stop() {
  if (!started_) return;
  started_ = false;
  work_.reset();
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const HeldPermits> PermitService::held() const {
  std::lock_guard lock(held_mu_);
  return held_;
}

void PermitService::publish_held() {
  auto list = std::make_shared<HeldPermits>();
  for (const auto& [id, p] : store_->held()) list->push_back(p);
  holds_any_.store(!list->empty(), std::memory_order_relaxed);
  std::lock_guard lock(held_mu_);
  held_ = std::move(list);
}

void PermitService::audit(std::string_view event,
                          std::vector<std::pair<std::string, std::string>> fields) {
  if (audit_) audit_(event, fields);
}

void PermitService::use(std::string id, boost::asio::any_io_executor reply_ex,
                        std::function<void(Status)> done) {
  if (pending_uses_.fetch_add(1, std::memory_order_relaxed) >= kMaxPendingUses) {
    pending_uses_.fetch_sub(1, std::memory_order_relaxed);
    boost::asio::post(reply_ex, [done = std::move(done)] {
      done(Status::Error(Code::kBufferFull, "too many permit uses waiting to be counted"));
    });
    return;
  }
  boost::asio::post(ioc_, [this, id = std::move(id), reply_ex, done = std::move(done)]() mutable {
    Status st = count_use(id);
    pending_uses_.fetch_sub(1, std::memory_order_relaxed);
    boost::asio::post(reply_ex,
                      [st = std::move(st), done = std::move(done)]() mutable { done(st); });
  });
}

Status PermitService::count_use(const std::string& id) {
  const std::string node = config_.current()->node_id;
  auto refuse = [&](std::string msg) {
    // A peer can present a refused permit with every request: per permit, its first
    // refusal is recorded, then at most one a second counting the refusals since the
    // previous record (like request_refused). The ids are of permits this node signed (the
    // checker verified them), so the map stays small; cleared if it ever is not.
    if (refused_audit_.size() >= kMaxRefusalThrottles) refused_audit_.clear();
    uint64_t suppressed = 0;
    if (refused_audit_[id].allow(suppressed))
      audit("permit_refused",
            {{"permit", id}, {"reason", msg}, {"suppressed", std::to_string(suppressed)}});
    return Status::Error(Code::kNotPermitted, std::move(msg), node);
  };
  auto it = store_->issued().find(id);
  if (it == store_->issued().end()) return refuse("permit " + id + " is not known at node " + node);
  const IssuedPermit& p = it->second;
  if (p.revoked) return refuse("permit " + id + " was revoked");
  const int64_t limit = p.permit.payload.uses;
  if (limit > 0 && p.used >= limit)
    return refuse("permit " + id + " is used up (" + std::to_string(p.used) + " of " +
                  std::to_string(limit) + " uses)");
  std::string error;
  if (!store_->count_use(id, error)) {
    log_.error("cannot count a permit use", {.extra = {{"permit", id}, {"error", error}}});
    return refuse("permit " + id + ": its use cannot be recorded at node " + node);
  }
  return Status::Ok();
}

void PermitService::admin(PermitAdminRequest req, PermitAdminRespond respond) {
  boost::asio::post(ioc_, [this, req = std::move(req), respond = std::move(respond)] {
    handle_admin(req, respond);
  });
}

void PermitService::handle_admin(const PermitAdminRequest& req, const PermitAdminRespond& respond) {
  const std::string& path = req.path;
  if (req.method == "GET" && (path == "/permits" || path == "/permits/")) return list(respond);
  if (req.method == "POST" && path == "/permits") return issue(req.body, respond);
  if (req.method == "POST" && path == "/permits/held") return add_held(req.body, respond);
  constexpr std::string_view kPrefix = "/permits/";
  if (req.method == "DELETE" && path.starts_with(kPrefix) && path.size() > kPrefix.size())
    return remove(path.substr(kPrefix.size()), respond);
  respond(404, error_json(Status::Error(Code::kNotFound, "no such admin route")));
}

void PermitService::issue(const std::string& body, const PermitAdminRespond& respond) {
  auto j = parse_body(body, respond);
  if (!j) return;
  const ConfigPtr cfg = config_.current();
  auto bad = [&](std::string msg) {
    respond(400, error_json(Status::Error(Code::kBadRequest, std::move(msg))));
  };
  const int64_t now = unix_now();
  PermitPayload p;
  p.id = random_hex(16);
  p.holder = cfg->node_id;
  p.holder_inst = cfg->inst_id;
  p.grantee = string_member(*j, "grantee");
  p.grantee_inst = string_member(*j, "grantee_inst");
  if (p.grantee_inst.empty())
    if (const PeerConfig* peer = find_peer(*cfg, p.grantee)) p.grantee_inst = peer->inst_id;
  p.type = string_member(*j, "type");
  p.resource = string_member(*j, "resource");
  int64_t level = 1, valid_s = kDefaultValidS, not_after = 0, uses = 0;
  p.not_before = now;
  std::string error;
  if (!integer_member(*j, "level", 1, 9, level, error) ||
      !integer_member(*j, "valid_s", 1, kMaxValidS, valid_s, error) ||
      !integer_member(*j, "not_before", 0, now + kMaxValidS, p.not_before, error) ||
      !integer_member(*j, "not_after", 0, now + kMaxValidS, not_after, error) ||
      !integer_member(*j, "uses", 0, int64_t{1} << 40, uses, error))
    return bad(error);
  if (j->contains("valid_s") && j->contains("not_after"))
    return bad("give valid_s or not_after, not both");
  if (p.grantee.empty()) return bad("grantee: the node the permit is granted to is required");
  if (p.grantee == cfg->node_id) return bad("grantee: a node does not need a permit of its own");
  p.level = static_cast<int>(level);
  p.not_after = j->contains("not_after") ? not_after : p.not_before + valid_s;
  p.uses = uses;
  auto permit = issue_permit(key_, p, error);
  if (!permit) return bad(error);
  if (!store_->add_issued(*permit, error)) {
    log_.error("cannot store an issued permit", {.extra = {{"error", error}}});
    return respond(500, error_json(Status::Error(Code::kSystemError, error)));
  }
  log_.info("permit issued", {.extra = {{"permit", p.id},
                                        {"grantee", p.grantee},
                                        {"type", p.type},
                                        {"resource", p.resource},
                                        {"uses", std::to_string(p.uses)}}});
  audit("permit_issued", {{"permit", p.id},
                          {"grantee", p.grantee},
                          {"type", p.type},
                          {"resource", p.resource},
                          {"level", std::to_string(p.level)},
                          {"not_after", std::to_string(p.not_after)},
                          {"uses", std::to_string(p.uses)}});
  Json out = payload_json(p);
  out["permit"] = permit->text;
  respond(200, out.dump());
}

void PermitService::list(const PermitAdminRespond& respond) {
  Json issued = Json::array(), held = Json::array();
  for (const auto& [id, p] : store_->issued()) {
    Json e = payload_json(p.permit.payload);
    e["uses_count"] = p.used;
    e["revoked"] = p.revoked;
    issued.push_back(std::move(e));
  }
  for (const auto& [id, p] : store_->held()) {
    // GET routes are open: the list names permits, it does not hand them out.
    held.push_back(payload_json(p.payload));
  }
  respond(200, Json{{"issued", std::move(issued)}, {"held", std::move(held)}}.dump());
}

void PermitService::add_held(const std::string& body, const PermitAdminRespond& respond) {
  auto j = parse_body(body, respond);
  if (!j) return;
  const ConfigPtr cfg = config_.current();
  std::string error;
  auto permit = parse_permit(string_member(*j, "permit"), error);
  if (!permit) return respond(400, error_json(Status::Error(Code::kBadRequest, error)));
  const PermitPayload& p = permit->payload;
  if (p.grantee != cfg->node_id)
    return respond(400,
                   error_json(Status::Error(Code::kNotPermitted,
                                            "permit " + p.id + " is granted to node " + p.grantee +
                                                ", not to this node " + cfg->node_id)));
  // The holder's signature, when its root is pinned here (a peer of the file or of the
  // peering handshake); otherwise the holder checks it when the permit is presented.
  bool verified = false;
  const PeerConfig* holder = find_peer(*cfg, p.holder);
  if (holder && !holder->root_pem.empty()) {
    auto root = Certificate::from_pem(holder->root_pem, error);
    auto key = root ? root->public_key(error) : std::nullopt;
    if (!key || !verify_permit(*key, *permit))
      return respond(400, error_json(Status::Error(
                              Code::kBadCertSignature,
                              "permit " + p.id + " is not signed by the pinned root of node " +
                                  p.holder + (key ? std::string() : ": " + error))));
    verified = true;
  }
  if (!store_->add_held(*permit, error))
    return respond(500, error_json(Status::Error(Code::kSystemError, error)));
  publish_held();
  log_.info("permit added", {.extra = {{"permit", p.id}, {"holder", p.holder}}});
  Json out = payload_json(p);
  out["verified"] = verified;
  respond(200, out.dump());
}

void PermitService::remove(const std::string& id, const PermitAdminRespond& respond) {
  std::string error;
  auto it = store_->issued().find(id);
  if (it != store_->issued().end()) {
    if (!it->second.revoked) {
      if (!store_->revoke(id, error))
        return respond(500, error_json(Status::Error(Code::kSystemError, error)));
      log_.info("permit revoked", {.extra = {{"permit", id}}});
      audit("permit_revoked", {{"permit", id}, {"grantee", it->second.permit.payload.grantee}});
    }
    return respond(200, Json{{"id", id}, {"revoked", true}}.dump());
  }
  if (store_->held().count(id)) {
    if (!store_->remove_held(id, error))
      return respond(500, error_json(Status::Error(Code::kSystemError, error)));
    publish_held();
    return respond(200, Json{{"id", id}, {"removed", true}}.dump());
  }
  respond(404, error_json(Status::Error(Code::kNotFound, "no permit " + id + " at this node")));
}

}  // namespace ptp
