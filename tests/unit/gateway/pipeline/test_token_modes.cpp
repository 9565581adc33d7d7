// The token check by authentication mode (gateway/pipeline/token.h), the per-thread cache
// of the peers' root keys, and the s1 tokens a source gateway puts on its own requests
// (gateway/forward/source_tokens.h).
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "common/token.h"
#include "gateway/evidence/root_keys.h"
#include "gateway/forward/source_tokens.h"
#include "gateway/pipeline/token.h"
#include "tests/unit/identity_test_support.h"
#include "trust/signed_token.h"

using namespace ptp;
using ptp::testing::new_node_key;
using ptp::testing::root_pem_for;

namespace {

constexpr int64_t kNow = 1700000000;
const std::string kKeyB = "hmac-key-of-B";
const std::string kKeyH = "hmac-key-of-H";

PeerConfig peer(const std::string& id, std::optional<AuthMode> mode, std::string root_pem = {}) {
  PeerConfig p;
  p.node_id = id;
  p.address = Endpoint{"127.0.0.1", 1};
  p.auth_mode = mode;
  p.root_pem = std::move(root_pem);
  return p;
}

// Node B, auth.mode signature: peer A (signature, A's root), H (hmac), P (passthrough),
// N (none), R (signature, R's root).
struct Fixture {
  NodeKey key_a = new_node_key();
  NodeKey key_r = new_node_key(KeyAlgorithm::kEd25519);
  ConfigPtr cfg = make();

  ConfigPtr make() const {
    auto c = std::make_shared<Config>();
    c->node_id = "B";
    c->auth.mode = AuthMode::kSignature;
    c->auth.allow_none = true;
    c->auth.node_keys = {{"B", kKeyB}, {"H", kKeyH}};
    c->peers = {peer("A", std::nullopt, root_pem_for(key_a, "A")), peer("H", AuthMode::kHmac),
                peer("P", AuthMode::kPassthrough), peer("N", AuthMode::kNone),
                peer("R", AuthMode::kSignature, root_pem_for(key_r, "R"))};
    return c;
  }
};

PtpHeader header(std::string source, std::string target, std::string session, std::string token) {
  PtpHeader h;
  h.source_node_id = std::move(source);
  h.target_node_id = std::move(target);
  h.session_id = std::move(session);
  h.token = std::move(token);
  return h;
}

}  // namespace

TEST_CASE("signature mode: verified once per session, another session verified again") {
  Fixture f;
  TokenChecks checks;
  const PtpHeader h =
      header("A", "B", "s-1", mint_signed_token(f.key_a, "A", "B", "s-1", kNow + 300));
  REQUIRE(check_request_token(f.cfg, h, "", kNow, checks).ok());
  CHECK(checks.signatures_checked == 1);
  CHECK(check_request_token(f.cfg, h, "", kNow + 10, checks).ok());  // from the cache
  CHECK(checks.signatures_checked == 1);

  // Another session brings its own token: checked in full.
  const PtpHeader h2 =
      header("A", "B", "s-2", mint_signed_token(f.key_a, "A", "B", "s-2", kNow + 300));
  CHECK(check_request_token(f.cfg, h2, "", kNow, checks).ok());
  CHECK(checks.signatures_checked == 2);

  // s-1's token claimed for s-2 (or another target) is no hit and does not verify.
  for (auto change : {&PtpHeader::session_id, &PtpHeader::target_node_id}) {
    PtpHeader other = h;
    other.*change = "s-2";
    Status s = check_request_token(f.cfg, other, "", kNow, checks);
    CHECK(s.code == Code::kForbidden);
    CHECK(s.message == "token signature does not match (session/source/target binding)");
  }
  CHECK(checks.signatures_checked == 4);

  // A remembered token still expires.
  Status late = check_request_token(f.cfg, h, "", kNow + 300 + 301, checks);
  CHECK(late.code == Code::kForbidden);
  CHECK(late.message == "token expired 301 s ago (allowed clock skew 300 s)");

  // A new snapshot (a reload) checks it again.
  ConfigPtr next = f.make();
  CHECK(check_request_token(next, h, "", kNow, checks).ok());
  CHECK(checks.signatures_checked == 5);
}

TEST_CASE("signature mode: a token signed with another key is refused, and not remembered") {
  Fixture f;
  TokenChecks checks;
  // R, a router on the path, signs with its own key a token claiming source A.
  const PtpHeader forged =
      header("A", "B", "s-1", mint_signed_token(f.key_r, "A", "B", "s-1", kNow + 300));
  for (int i = 0; i < 2; ++i) {
    Status s = check_request_token(f.cfg, forged, "", kNow, checks);
    CHECK(s.code == Code::kForbidden);
    CHECK(s.message == "token signature does not match (session/source/target binding)");
  }
  CHECK(checks.signatures_checked == 2);
  CHECK(checks.verified.size() == 0);
  // R's token as R is fine (R's own root, an Ed25519 key).
  CHECK(check_request_token(
            f.cfg, header("R", "B", "s-1", mint_signed_token(f.key_r, "R", "B", "s-1", kNow + 60)),
            "", kNow, checks)
            .ok());
  // An hmac token where a signature is expected; A's token for a source without a root.
  Status s = check_request_token(
      f.cfg, header("A", "B", "s-1", mint_token("k", "A", "B", "s-1", kNow)), "", kNow, checks);
  CHECK(s.message == "malformed token (expected s1.<expiry>.<signature>)");
  s = check_request_token(f.cfg, header("X", "B", "s-1", forged.token), "", kNow, checks);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message == "no pinned root for source node X");
  s = check_request_token(f.cfg, header("A", "B", "s-1", ""), "", kNow, checks);
  CHECK(s.message == "missing token (x-ptp-token)");
}

TEST_CASE("hmac, passthrough and none peers beside signature ones") {
  Fixture f;
  TokenChecks checks;
  // hmac: today's check with auth.node_keys.
  CHECK(check_request_token(f.cfg,
                            header("H", "B", "s", mint_token(kKeyH, "H", "B", "s", kNow + 60)), "",
                            kNow, checks)
            .ok());
  CHECK(check_request_token(f.cfg,
                            header("H", "B", "s", mint_token("bad", "H", "B", "s", kNow + 60)), "",
                            kNow, checks)
            .message == "token does not match (session/source/target binding)");
  // passthrough: any token, but only from P's own connection.
  const PtpHeader opaque = header("P", "B", "s", "vendorX:opaque/=+token");
  CHECK(check_request_token(f.cfg, opaque, "P", kNow, checks).ok());
  for (const char* hop : {"", "R", "A"}) {
    Status s = check_request_token(f.cfg, opaque, hop, kNow, checks);
    CHECK(s.code == Code::kForbidden);
    CHECK(s.message == "passthrough source P must connect with its certificate");
  }
  CHECK(checks.verified.size() == 1);  // only the hmac token: passthrough is never cached
  // none: anything.
  CHECK(check_request_token(f.cfg, header("N", "B", "s", "whatever"), "", kNow, checks).ok());
  // auth disabled: no check at all.
  auto off = std::make_shared<Config>(*f.cfg);
  off->auth.enabled = false;
  CHECK(check_request_token(off, header("A", "B", "s", "junk"), "", kNow, checks).ok());
}

TEST_CASE("this node's own containers: hmac with its own key, whatever the target's mode") {
  Fixture f;
  TokenChecks checks;
  CHECK(check_request_token(f.cfg,
                            header("B", "A", "s", mint_token(kKeyB, "B", "A", "s", kNow + 60)), "",
                            kNow, checks)
            .ok());
  // Not with a node key: a container's credential is the hmac key.
  NodeKey key_b = new_node_key();
  Status s = check_request_token(
      f.cfg, header("B", "A", "s", mint_signed_token(key_b, "B", "A", "s", kNow + 60)), "", kNow,
      checks);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message == "malformed token (expected v1.<expiry>.<hmac>)");
  // To a passthrough target the token is that target's: not checked here.
  CHECK(check_request_token(f.cfg, header("B", "P", "s", "vendorX:opaque"), "", kNow, checks).ok());
  // Without this node's key in auth.node_keys its containers are refused.
  auto no_keys = std::make_shared<Config>(*f.cfg);
  no_keys->auth.node_keys.clear();
  CHECK(check_request_token(no_keys, header("B", "A", "s", mint_token(kKeyB, "B", "A", "s", kNow)),
                            "", kNow, checks)
            .message == "no key configured for source node 'B'");
}

TEST_CASE("root keys: parsed once per snapshot, a bad root says why, non-peers are not kept") {
  Fixture f;
  RootKeys roots;
  std::string error;
  const PublicKey* a = roots.find(f.cfg, "A", error);
  REQUIRE(a != nullptr);
  CHECK(roots.find(f.cfg, "A", error) == a);
  CHECK(roots.find(f.cfg, "H", error) == nullptr);  // a peer without a root
  CHECK(error.empty());
  CHECK(roots.find(f.cfg, "nobody", error) == nullptr);
  CHECK(roots.size() == 2);
  auto bad = std::make_shared<Config>(*f.cfg);
  bad->peers[0].root_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  CHECK(roots.find(bad, "A", error) == nullptr);
  CHECK(error.find("the pinned root is not a PEM certificate") == 0);
  CHECK(roots.size() == 1);
  TokenChecks checks;
  Status s = check_request_token(
      bad, header("A", "B", "s", mint_signed_token(f.key_a, "A", "B", "s", kNow + 60)), "", kNow,
      checks);
  CHECK(s.code == Code::kForbidden);
  CHECK(s.message.find("source node A: the pinned root is not a PEM certificate") == 0);
}

TEST_CASE("source tokens: one per target and session, minted again after half its life") {
  // Node A sends to B (signature), H (hmac) and P (passthrough).
  NodeKey key_a = new_node_key();
  auto c = std::make_shared<Config>();
  c->node_id = "A";
  c->auth.mode = AuthMode::kSignature;
  c->identity.node_key = std::make_shared<const NodeKey>(key_a);
  c->peers = {peer("B", std::nullopt), peer("H", AuthMode::kHmac),
              peer("P", AuthMode::kPassthrough)};
  std::string error;
  const auto pub = key_a.public_key(error);
  REQUIRE(pub);

  SourceTokens tokens;
  PtpHeader h = header("A", "B", "s-1", "v1.container-token");
  REQUIRE(tokens.apply(*c, h, kNow).ok());
  const std::string first = h.token;
  std::optional<int64_t> expiry;
  CHECK(verify_signed_token(*pub, c->auth, h, kNow, expiry).ok());
  CHECK(expiry == kNow + 300);

  // The same session: the same token until half its life; then a fresh one.
  PtpHeader again = header("A", "B", "s-1", "v1.other");
  REQUIRE(tokens.apply(*c, again, kNow + 149).ok());
  CHECK(again.token == first);
  CHECK(tokens.minted() == 1);
  REQUIRE(tokens.apply(*c, again, kNow + 150).ok());
  CHECK(again.token != first);
  expiry.reset();
  CHECK(verify_signed_token(*pub, c->auth, again, kNow + 150, expiry).ok());
  CHECK(expiry == kNow + 450);
  // Another session its own.
  PtpHeader s2 = header("A", "B", "s-2", "x");
  REQUIRE(tokens.apply(*c, s2, kNow).ok());
  CHECK(s2.token != first);
  CHECK(tokens.size() == 2);

  // hmac and passthrough targets keep the token they came with.
  for (const char* target : {"H", "P"}) {
    PtpHeader other = header("A", target, "s-1", "the container's token");
    REQUIRE(tokens.apply(*c, other, kNow).ok());
    CHECK(other.token == "the container's token");
  }

  // Bounded by auth.max_token_lifetime_s.
  auto short_life = std::make_shared<Config>(*c);
  short_life->auth.max_token_lifetime = std::chrono::seconds(60);
  PtpHeader s3 = header("A", "B", "s-3", "x");
  REQUIRE(tokens.apply(*short_life, s3, kNow).ok());
  expiry.reset();
  CHECK(verify_signed_token(*pub, short_life->auth, s3, kNow, expiry).ok());
  CHECK(expiry == kNow + 60);

  // A new key (a reload) forgets what the old one signed.
  auto rekeyed = std::make_shared<Config>(*c);
  rekeyed->identity.node_key = std::make_shared<const NodeKey>(new_node_key());
  PtpHeader h4 = header("A", "B", "s-1", "x");
  REQUIRE(tokens.apply(*rekeyed, h4, kNow + 1).ok());
  CHECK(tokens.size() == 1);
  expiry.reset();
  CHECK(verify_signed_token(*pub, c->auth, h4, kNow + 1, expiry).code == Code::kForbidden);

  // No node key: refused, not sent unsigned.
  auto keyless = std::make_shared<Config>(*c);
  keyless->identity.node_key.reset();
  PtpHeader h5 = header("A", "B", "s-1", "x");
  Status st = tokens.apply(*keyless, h5, kNow);
  CHECK(st.code == Code::kSystemError);
  CHECK(st.message == "no node key to sign the token for node B with (identity.dir)");
}
