#include "gateway/peering/handshake.h"

#include <nlohmann/json.hpp>

#include "codecs/base64.h"
#include "codecs/json_depth.h"
#include "gateway/config/peer_root.h"
#include "trust/invitation.h"

namespace ptp {
namespace {

using Json = nlohmann::json;

constexpr size_t kRouteDepth = 8;
// Route.status bit: join requested (the reference implementation's flags).
constexpr int64_t kStatusJoinRequested = 16;
constexpr int64_t kStatusNetworked = 2;

std::string text_field(const Json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

int64_t int_field(const Json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

bool carries(const Json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return false;
  if (it->is_string()) return !it->get<std::string>().empty();
  return true;
}

Status refused(Code c, std::string msg) { return Status::Error(c, std::move(msg)); }

// The peer checks shared by weave and ack: its certificates name it and chain to its
// root, and its signature over the canonical text verifies with that root.
Status check_sender(const HandshakeCrypto& crypto, const RouteBody& r, std::string_view what,
                    std::string_view canonical) {
  if (Status st = crypto.check_certificates(r.host_root, r.host_crt, r.node_id); !st.ok())
    return refused(Code::kBadCertSignature, std::string(what) + " refused: " + st.message);
  auto sig = base64_decode(r.signature);
  if (!sig || sig->empty() || !crypto.verify(r.host_root, canonical, *sig))
    return refused(Code::kBadCertSignature, std::string(what) + " refused: the signature of node " +
                                                r.node_id +
                                                " does not verify with its root certificate");
  return Status::Ok();
}

// Under `crypto: gm` a node whose root is not SM2 is not peered (docs/security.md "Crypto
// profiles").
Status check_profile(const Config& cfg, const RouteBody& r, std::string_view what) {
  if (!cfg.crypto.gm) return Status::Ok();
  std::string why = gm_root_problem(r.host_root);
  if (why.empty()) return Status::Ok();
  return refused(Code::kNotPermitted,
                 std::string(what) + " refused: the host_root of node " + r.node_id + ": " + why);
}

}  // namespace

Status parse_route_body(std::string_view body, RouteBody& out) {
  if (body.size() > kPeeringBodyLimit)
    return refused(Code::kTooLarge, "body of " + std::to_string(body.size()) + " bytes exceeds " +
                                        std::to_string(kPeeringBodyLimit) + " bytes");
  if (!json_depth_within(body, kRouteDepth))
    return refused(Code::kBadRequest,
                   "body nested more than " + std::to_string(kRouteDepth) + " levels deep");
  Json o = Json::parse(body, nullptr, false);
  if (o.is_discarded() || !o.is_object())
    return refused(Code::kBadRequest, "body is not a JSON object (a Route record)");
  for (const char* key : {"host_key", "guest_key"}) {
    if (carries(o, key))
      return refused(Code::kBadRequest,
                     std::string("weave refused: the body carries a private key (") + key +
                         "); a private key never leaves its node: send "
                         "certificates only");
  }
  out.node_id = text_field(o, "node_id");
  if (out.node_id.empty()) return refused(Code::kBadRequest, "body without node_id");
  out.inst_id = text_field(o, "inst_id");
  out.name = text_field(o, "name");
  out.inst_name = text_field(o, "inst_name");
  out.address = text_field(o, "address");
  out.host_root = text_field(o, "host_root");
  out.host_crt = text_field(o, "host_crt");
  out.auth_code = text_field(o, "auth_code");
  out.signature = text_field(o, "signature");
  out.version = text_field(o, "version");
  out.expire_at = int_field(o, "expire_at");
  out.status = int_field(o, "status");
  return Status::Ok();
}

std::string route_body_json(const RouteBody& r) {
  Json o{{"node_id", r.node_id},     {"inst_id", r.inst_id},     {"name", r.name},
         {"inst_name", r.inst_name}, {"address", r.address},     {"host_root", r.host_root},
         {"host_crt", r.host_crt},   {"auth_code", r.auth_code}, {"expire_at", r.expire_at},
         {"status", r.status},       {"version", r.version},     {"signature", r.signature}};
  return o.dump();
}

std::string ok_answer_json(std::string_view extra_fields) {
  std::string out = R"({"code":"E0000000000","message":"ok")";
  if (extra_fields.size() > 2) {
    out += ',';
    out += extra_fields.substr(1, extra_fields.size() - 2);  // the object's members
  }
  out += '}';
  return out;
}

namespace {
// The sender's part of a weave or ack body: who it is and its certificates.
RouteBody own_route_body(const Config& self, const HandshakeCrypto& crypto) {
  RouteBody r;
  r.node_id = self.node_id;
  r.inst_id = self.inst_id;
  r.name = self.node_id;
  r.inst_name = self.inst_id;
  r.address = crypto.address;
  r.host_root = crypto.root_pem;
  r.host_crt = crypto.tls_chain_pem;
  return r;
}
}  // namespace

RouteBody make_weave_body(const Config& self, const HandshakeCrypto& crypto,
                          std::string_view inviter, std::string_view code, int64_t now) {
  RouteBody r = own_route_body(self, crypto);
  r.auth_code = weave_proof(code, inviter, self.node_id, crypto.root_fp);
  r.expire_at = now + self.peering.expiry_seconds();
  r.status = kStatusJoinRequested;
  r.signature = base64_encode(crypto.sign(
      weave_signed_text(inviter, self.node_id, r.address, crypto.root_fp, r.auth_code)));
  return r;
}

RouteBody make_ack_body(const Config& self, const HandshakeCrypto& crypto, std::string_view joiner,
                        std::string_view code, int64_t expires_at) {
  RouteBody r = own_route_body(self, crypto);
  r.auth_code = ack_proof(code, self.node_id, joiner, crypto.root_fp);
  r.expire_at = expires_at;
  r.status = kStatusNetworked;
  r.signature = base64_encode(
      crypto.sign(ack_signed_text(self.node_id, joiner, r.address, crypto.root_fp, r.auth_code)));
  return r;
}

WeaveResult accept_weave(const Config& cfg, PeerStore& store, const HandshakeCrypto& crypto,
                         std::string_view body, int64_t now) {
  WeaveResult out;
  RouteBody r;
  if (out.status = parse_route_body(body, r); !out.status.ok()) return out;
  const std::string& b = r.node_id;
  // Cheap first: the invitation, before any certificate or signature is looked at.
  auto inv = store.invitation_for(b);
  if (!inv) {
    out.status = refused(Code::kAuthCodeExpired, "weave refused: node " + cfg.node_id +
                                                     " holds no invitation for node " + b);
    return out;
  }
  if (inv->used || inv->expire_at < now) {
    out.status =
        refused(Code::kAuthCodeExpired, "weave refused: the invitation for node " + b + " " +
                                            (inv->used ? "was used already" : "has expired") +
                                            "; ask for a new one");
    return out;
  }
  const std::string fp = crypto.fingerprint(r.host_root);
  if (fp.empty() || !proof_matches(weave_proof(inv->code, cfg.node_id, b, fp), r.auth_code)) {
    out.status = refused(Code::kBadCertSignature,
                         "weave refused: auth_code is not the proof of the invitation for node " +
                             b + " and its host_root");
    return out;
  }
  if (out.status = check_profile(cfg, r, "weave"); !out.status.ok()) return out;
  if (out.status = check_sender(crypto, r, "weave",
                                weave_signed_text(cfg.node_id, b, r.address, fp, r.auth_code));
      !out.status.ok())
    return out;
  if (b == cfg.node_id || find_peer(cfg, b)) {
    out.status =
        refused(Code::kNotPermitted,
                "weave refused: node " + b +
                    " is a configured peer of this node (cannot shadow a configured peer)");
    return out;
  }
  PeerRecord rec;
  rec.node_id = b;
  rec.inst_id = r.inst_id;
  rec.name = r.name;
  rec.inst_name = r.inst_name;
  rec.address = r.address;
  rec.root_pem = r.host_root;
  rec.root_fp = fp;
  rec.state = cfg.peering.auto_approve ? PeerState::kActive : PeerState::kPending;
  rec.created_at = now;
  rec.expires_at = now + cfg.peering.expiry_seconds();
  rec.auth_mode = AuthMode::kSignature;
  rec.origin = "invited";
  if (out.status = store.complete_weave(inv->code, rec, now); !out.status.ok()) return out;
  Json extra{{"node_id", cfg.node_id},
             {"inst_id", cfg.inst_id},
             {"address", crypto.address},
             {"host_root", crypto.root_pem},
             {"state", std::string(peer_state_name(rec.state))},
             {"expire_at", rec.expires_at}};
  out.answer = ok_answer_json(extra.dump());
  out.record = std::move(rec);
  out.code = inv->code;
  return out;
}

Status accept_ack(const Config& cfg, PeerStore& store, const HandshakeCrypto& crypto,
                  std::string_view body, int64_t now, std::string& answer) {
  RouteBody r;
  if (Status st = parse_route_body(body, r); !st.ok()) return st;
  const std::string& a = r.node_id;
  auto join = store.join_for(a);
  auto existing = store.find(a);
  if (!join) {
    // A repeated ack (the first answer was lost): fine when it names the same root.
    if (existing && existing->state != PeerState::kPending &&
        crypto.fingerprint(r.host_root) == existing->root_fp) {
      answer = ok_answer_json(Json{{"node_id", cfg.node_id}}.dump());
      return Status::Ok();
    }
    return refused(Code::kAuthCodeExpired,
                   "ack refused: node " + cfg.node_id + " has no pending join with node " + a);
  }
  const std::string fp = crypto.fingerprint(r.host_root);
  if (fp.empty() || fp != join->root_fp)
    return refused(
        Code::kBadCertSignature,
        "ack refused: the host_root of node " + a +
            " is not the root certificate its invitation named (sha256:" + join->root_fp + ")");
  if (!proof_matches(ack_proof(join->code, a, cfg.node_id, fp), r.auth_code))
    return refused(Code::kBadCertSignature,
                   "ack refused: auth_code is not the proof of the invitation from node " + a);
  if (Status st = check_profile(cfg, r, "ack"); !st.ok()) return st;
  if (Status st = check_sender(crypto, r, "ack",
                               ack_signed_text(a, cfg.node_id, r.address, fp, r.auth_code));
      !st.ok())
    return st;
  if (find_peer(cfg, a))
    return refused(Code::kNotPermitted,
                   "ack refused: node " + a +
                       " is a configured peer of this node (cannot shadow a configured peer)");
  PeerRecord rec;
  rec.node_id = a;
  rec.inst_id = r.inst_id.empty() ? join->inst : r.inst_id;
  rec.name = r.name;
  rec.inst_name = r.inst_name;
  rec.address = r.address.empty() ? join->address : r.address;
  rec.root_pem = r.host_root;
  rec.root_fp = fp;
  rec.state = PeerState::kActive;
  rec.created_at = now;
  // The inviter's expiry, within this node's own bound.
  const int64_t bound = now + cfg.peering.expiry_seconds();
  rec.expires_at = r.expire_at > now && r.expire_at < bound ? r.expire_at : bound;
  rec.auth_mode = AuthMode::kSignature;
  rec.origin = "joined";
  if (Status st = store.complete_join(rec); !st.ok()) return st;
  answer = ok_answer_json(Json{{"node_id", cfg.node_id}}.dump());
  return Status::Ok();
}

}  // namespace ptp
