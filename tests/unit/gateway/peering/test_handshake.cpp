// The weave and ack checks with real identities (trust/identity): the order of the checks
// (private key, invitation, proof, certificates and signature, configured peer), the codes,
// the one-time use of the invitation, and the ack against the pending join.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "gateway/peering/crypto.h"
#include "gateway/peering/handshake.h"
#include "gateway/peering/overlay.h"
#include "trust/identity.h"
#include "trust/invitation.h"

using namespace ptp;
namespace fs = std::filesystem;

namespace {

struct Dir {
  fs::path path;
  Dir() {
    std::string tmpl = (fs::temp_directory_path() / "ptp-handshake-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A node: its identity directory, config and handshake crypto.
struct Node {
  Config cfg;
  HandshakeCrypto crypto;
  Node(const Dir& dir, const std::string& id, const std::string& sub = "",
       KeyAlgorithm alg = KeyAlgorithm::kEcdsaP256) {
    const std::string d = (dir.path / (sub.empty() ? id : sub)).string();
    IdentityOptions o;
    o.node_id = id;
    o.inst_id = "INST_" + id;
    o.address = "127.0.0.1:1790" + std::to_string(id[0] - 'A' + 1);
    o.algorithm = alg;
    std::string error;
    REQUIRE_MESSAGE(create_identity(d, o, error), error);
    cfg.node_id = id;
    cfg.inst_id = o.inst_id;
    cfg.identity.dir = d;
    REQUIRE_MESSAGE(make_handshake_crypto(cfg, crypto, error), error);
  }
};

std::unique_ptr<PeerStore> store_in(const Dir& dir, const std::string& name) {
  std::string error;
  auto s = PeerStore::open((dir.path / name).string(), error);
  REQUIRE(s);
  return s;
}

std::string with(const RouteBody& r, const char* key, nlohmann::json value) {
  auto o = nlohmann::json::parse(route_body_json(r));
  o[key] = std::move(value);
  return o.dump();
}

}  // namespace

TEST_CASE("weave: the checks in order, then the invitation is used once") {
  Dir dir;
  Node a(dir, "A"), b(dir, "B"), other(dir, "B", "B-other-root");
  auto store = store_in(dir, "a.json");
  const int64_t now = 1'700'000'000;
  const std::string code = new_invitation_code();
  RouteBody body = make_weave_body(b.cfg, b.crypto, "A", code, now);

  // A private key: refused first, with the reason (even before the invitation).
  auto w = accept_weave(a.cfg, *store, a.crypto, with(body, "host_key", "-----BEGIN..."), now);
  CHECK(w.status.code == Code::kBadRequest);
  CHECK(w.status.message.find("private key never leaves its node") != std::string::npos);
  CHECK(accept_weave(a.cfg, *store, a.crypto, with(body, "guest_key", "k"), now).status.code ==
        Code::kBadRequest);
  // Too deep, not an object.
  CHECK(accept_weave(a.cfg, *store, a.crypto, std::string(20, '[') + std::string(20, ']'), now)
            .status.code == Code::kBadRequest);
  CHECK(accept_weave(a.cfg, *store, a.crypto, "[]", now).status.code == Code::kBadRequest);
  // No invitation for B: 604, whatever the certificates.
  w = accept_weave(a.cfg, *store, a.crypto, with(body, "host_root", "garbage"), now);
  CHECK(w.status.code == Code::kAuthCodeExpired);
  CHECK(w.status.message.find("no invitation for node B") != std::string::npos);

  REQUIRE(store->add_invitation({code, "B", now, now + 3600, false}, now).ok());
  // A proof of another code.
  RouteBody wrong = make_weave_body(b.cfg, b.crypto, "A", new_invitation_code(), now);
  CHECK(accept_weave(a.cfg, *store, a.crypto, route_body_json(wrong), now).status.code ==
        Code::kBadCertSignature);
  // The root of another key than the one that issued host_crt (the proof made for it).
  RouteBody mixed = make_weave_body(other.cfg, other.crypto, "A", code, now);
  mixed.host_crt = b.crypto.tls_chain_pem;
  w = accept_weave(a.cfg, *store, a.crypto, route_body_json(mixed), now);
  CHECK(w.status.code == Code::kBadCertSignature);
  CHECK(w.status.message.find("not issued by host_root") != std::string::npos);
  // A signature that does not verify.
  CHECK(accept_weave(a.cfg, *store, a.crypto, with(body, "signature", "AAAA"), now).status.code ==
        Code::kBadCertSignature);
  // The address is signed: changing it breaks the signature.
  CHECK(
      accept_weave(a.cfg, *store, a.crypto, with(body, "address", "10.0.0.9:1"), now).status.code ==
      Code::kBadCertSignature);
  // B configured in the file: it cannot be shadowed.
  Config with_b = a.cfg;
  PeerConfig yaml;
  yaml.node_id = "B";
  with_b.peers.push_back(yaml);
  CHECK(accept_weave(with_b, *store, a.crypto, route_body_json(body), now).status.code ==
        Code::kNotPermitted);
  // None of the refusals used the invitation; the reference shape with extra fields passes.
  auto ref = nlohmann::json::parse(route_body_json(body));
  ref["describe"] = "x";
  ref["guest_root"] = "";
  ref["host_key"] = "";
  ref["extra"] = {{"k", 1}};
  w = accept_weave(a.cfg, *store, a.crypto, ref.dump(), now);
  REQUIRE_MESSAGE(w.status.ok(), w.status.message);
  CHECK(w.record.state == PeerState::kActive);
  CHECK(w.record.root_fp == b.crypto.root_fp);
  CHECK(w.record.expires_at == now + 365 * 86400);
  auto answer = nlohmann::json::parse(w.answer);
  CHECK(answer["code"] == "E0000000000");
  CHECK(answer["node_id"] == "A");
  CHECK(store->find("B"));
  // Used: 604.
  w = accept_weave(a.cfg, *store, a.crypto, route_body_json(body), now);
  CHECK(w.status.code == Code::kAuthCodeExpired);
  CHECK(w.status.message.find("used") != std::string::npos);
}

TEST_CASE("weave: an expired invitation is 604; without auto_approve the joiner is pending") {
  Dir dir;
  Node a(dir, "A"), b(dir, "B");
  auto store = store_in(dir, "a.json");
  const int64_t now = 1'700'000'000;
  const std::string code = new_invitation_code();
  REQUIRE(store->add_invitation({code, "B", now, now + 10, false}, now).ok());
  RouteBody body = make_weave_body(b.cfg, b.crypto, "A", code, now);
  auto w = accept_weave(a.cfg, *store, a.crypto, route_body_json(body), now + 11);
  CHECK(w.status.code == Code::kAuthCodeExpired);
  CHECK(w.status.message.find("expired") != std::string::npos);
  a.cfg.peering.auto_approve = false;
  w = accept_weave(a.cfg, *store, a.crypto, route_body_json(body), now + 5);
  REQUIRE(w.status.ok());
  CHECK(store->find("B")->state == PeerState::kPending);
}

TEST_CASE("ack: against the pending join and the invitation's root fingerprint") {
  Dir dir;
  Node a(dir, "A"), b(dir, "B"), impostor(dir, "A", "A-other-root");
  auto store = store_in(dir, "b.json");
  const int64_t now = 1'700'000'000;
  const std::string code = new_invitation_code();
  std::string answer;
  RouteBody ack = make_ack_body(a.cfg, a.crypto, "B", code, now + 1000);
  // No pending join: refused.
  CHECK(accept_ack(b.cfg, *store, b.crypto, route_body_json(ack), now, answer).code ==
        Code::kAuthCodeExpired);
  REQUIRE(store
              ->add_join({"A", "INST_A", a.crypto.address, a.crypto.root_fp, code, now, now + 3600},
                         now)
              .ok());
  // Another root than the invitation named: 615.
  RouteBody other = make_ack_body(impostor.cfg, impostor.crypto, "B", code, now + 1000);
  CHECK(accept_ack(b.cfg, *store, b.crypto, route_body_json(other), now, answer).code ==
        Code::kBadCertSignature);
  CHECK(accept_ack(b.cfg, *store, b.crypto, with(ack, "host_key", "x"), now, answer).code ==
        Code::kBadRequest);
  CHECK(accept_ack(b.cfg, *store, b.crypto, with(ack, "signature", "AAAA"), now, answer).code ==
        Code::kBadCertSignature);
  REQUIRE(accept_ack(b.cfg, *store, b.crypto, route_body_json(ack), now, answer).ok());
  auto rec = store->find("A");
  REQUIRE(rec);
  CHECK(rec->state == PeerState::kActive);
  CHECK(rec->expires_at == now + 1000);
  CHECK(rec->root_fp == a.crypto.root_fp);
  CHECK_FALSE(store->join_for("A"));
  // Repeated (the first answer lost): still fine.
  CHECK(accept_ack(b.cfg, *store, b.crypto, route_body_json(ack), now, answer).ok());
}

TEST_CASE("crypto gm: a weave or ack from a node whose root is not SM2 is refused (614)") {
  Dir dir;
  Node a(dir, "A", "A-sm2", KeyAlgorithm::kSm2), b(dir, "B"),
      b_sm2(dir, "B", "B-sm2", KeyAlgorithm::kSm2);
  a.cfg.crypto.gm = true;
  auto store = store_in(dir, "a.json");
  const int64_t now = 1'700'000'000;
  const std::string code = new_invitation_code();
  REQUIRE(store->add_invitation({code, "B", now, now + 3600, false}, now).ok());
  auto w = accept_weave(a.cfg, *store, a.crypto,
                        route_body_json(make_weave_body(b.cfg, b.crypto, "A", code, now)), now);
  CHECK(w.status.code == Code::kNotPermitted);
  CHECK(w.status.message ==
        "weave refused: the host_root of node B: its key is ecdsa-p256 (crypto: gm takes SM2 "
        "node roots only)");
  CHECK_FALSE(store->find("B"));
  // The invitation is still unused: B with an SM2 identity joins.
  w = accept_weave(a.cfg, *store, a.crypto,
                   route_body_json(make_weave_body(b_sm2.cfg, b_sm2.crypto, "A", code, now)), now);
  REQUIRE_MESSAGE(w.status.ok(), w.status.message);

  // B (gm) refuses the ack of an inviter whose root is not SM2, even on its pending join.
  Node a_p256(dir, "A", "A-p256");
  b_sm2.cfg.crypto.gm = true;
  auto b_store = store_in(dir, "b.json");
  REQUIRE(b_store
              ->add_join({"A", "INST_A", a_p256.crypto.address, a_p256.crypto.root_fp, code, now,
                          now + 3600},
                         now)
              .ok());
  std::string answer;
  Status st =
      accept_ack(b_sm2.cfg, *b_store, b_sm2.crypto,
                 route_body_json(make_ack_body(a_p256.cfg, a_p256.crypto, "B", code, now + 1000)),
                 now, answer);
  CHECK(st.code == Code::kNotPermitted);
  CHECK(st.message.find("ack refused: the host_root of node A: its key is ecdsa-p256") == 0);
  CHECK_FALSE(b_store->find("A"));
  // The international profile peers them.
  b_sm2.cfg.crypto.gm = false;
  CHECK(accept_ack(b_sm2.cfg, *b_store, b_sm2.crypto,
                   route_body_json(make_ack_body(a_p256.cfg, a_p256.crypto, "B", code, now + 1000)),
                   now, answer)
            .ok());
}

TEST_CASE("crypto gm: recorded peers whose root is not SM2 are left out of the overlay") {
  Dir dir;
  Node self(dir, "A", "A-sm2", KeyAlgorithm::kSm2), p256(dir, "B"),
      sm2(dir, "C", "C-sm2", KeyAlgorithm::kSm2);
  auto record = [](const Node& n) {
    PeerRecord r;
    r.node_id = n.cfg.node_id;
    r.address = n.crypto.address;
    r.root_pem = n.crypto.root_pem;
    r.state = PeerState::kActive;
    r.auth_mode = AuthMode::kSignature;
    return r;
  };
  const std::vector<PeerRecord> records = {record(p256), record(sm2)};
  auto base = std::make_shared<Config>(self.cfg);
  ConfigPtr all = overlay_peers(base, records);
  CHECK(all->peers.size() == 2);
  CHECK(peer_records_left_out(*base, records).empty());
  base->crypto.gm = true;
  ConfigPtr gm = overlay_peers(base, records);
  REQUIRE(gm->peers.size() == 1);
  CHECK(gm->peers[0].node_id == "C");
  CHECK(peer_records_left_out(*base, records) ==
        std::vector<std::string>{
            "peer B: its key is ecdsa-p256 (crypto: gm takes SM2 node roots only)"});
}
