#include <doctest/doctest.h>

#include "codecs/base64.h"
#include "trust/signed_token.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::make_key;
using ptp::testing::public_of;
using ptp::testing::run_shell;
using ptp::testing::TrustTempDir;

namespace {

constexpr int64_t kNow = 1'800'000'000;

PtpHeader header(std::string token) {
  PtpHeader h;
  h.source_node_id = "nodeA";
  h.target_node_id = "nodeB";
  h.session_id = "sess-1";
  h.token = std::move(token);
  return h;
}

Status check(const PublicKey& pub, const PtpHeader& h, int64_t now = kNow) {
  AuthConfig bounds;
  std::optional<int64_t> expiry;
  Status st = verify_signed_token(pub, bounds, h, now, expiry);
  CHECK(expiry.has_value() == st.ok());
  return st;
}

}  // namespace

TEST_CASE("signed token: the s1 format, signed over the documented message") {
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519, KeyAlgorithm::kSm2}) {
    CAPTURE(key_algorithm_name(alg));
    NodeKey key = make_key(alg);
    const std::string token = mint_signed_token(key, "nodeA", "nodeB", "sess-1", kNow + 300);
    const std::string prefix = "s1." + std::to_string(kNow + 300) + ".";
    REQUIRE(token.substr(0, prefix.size()) == prefix);
    CHECK(is_signed_token(token));
    const std::string sig_text = token.substr(prefix.size());
    CHECK(sig_text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_") == std::string::npos);
    auto sig = base64url_decode(sig_text);
    REQUIRE(sig.has_value());
    CHECK(public_of(key).verify("ptp-token-s1\nnodeA\nnodeB\nsess-1\n1800000300", *sig));
    CHECK(signed_token_message("nodeA", "nodeB", "sess-1", "1800000300") ==
          "ptp-token-s1\nnodeA\nnodeB\nsess-1\n1800000300");

    AuthConfig bounds;
    std::optional<int64_t> expiry;
    Status st = verify_signed_token(public_of(key), bounds, header(token), kNow, expiry);
    CHECK_MESSAGE(st.ok(), st.message);
    CHECK(expiry == kNow + 300);
  }
  CHECK_FALSE(is_signed_token("v1.1.abc"));
  CHECK_FALSE(is_signed_token(""));
  CHECK(is_signed_token("s1."));
}

TEST_CASE("signed token: another source, target, session, key or a tampered token is refused") {
  NodeKey key = make_key(KeyAlgorithm::kEcdsaP256);
  PublicKey pub = public_of(key);
  const std::string token = mint_signed_token(key, "nodeA", "nodeB", "sess-1", kNow + 60);
  const std::string mismatch = "token signature does not match (session/source/target binding)";

  PtpHeader h = header(token);
  h.source_node_id = "nodeR";
  Status st = check(pub, h);
  CHECK(st.code == Code::kForbidden);
  CHECK(st.message == mismatch);
  CHECK(st.message.find(token) == std::string::npos);

  h = header(token);
  h.target_node_id = "nodeC";
  CHECK(check(pub, h).message == mismatch);
  h = header(token);
  h.session_id = "sess-2";
  CHECK(check(pub, h).message == mismatch);

  // A router's own key cannot stand in for the source's.
  NodeKey router = make_key(KeyAlgorithm::kEcdsaP256);
  CHECK(check(public_of(router), header(token)).message == mismatch);
  const std::string forged = mint_signed_token(router, "nodeA", "nodeB", "sess-1", kNow + 60);
  CHECK(check(pub, header(forged)).message == mismatch);
  // The same key in another algorithm's scheme.
  NodeKey ed = make_key(KeyAlgorithm::kEd25519);
  CHECK(check(pub, header(mint_signed_token(ed, "nodeA", "nodeB", "sess-1", kNow + 60))).message ==
        mismatch);

  // A later expiry with the old signature.
  std::string later = token;
  later.replace(3, 10, std::to_string(kNow + 61));
  CHECK(check(pub, header(later)).message == mismatch);
  // One character of the signature changed.
  std::string flipped = token;
  flipped[20] = flipped[20] == 'A' ? 'B' : 'A';
  CHECK(check(pub, header(flipped)).code == Code::kForbidden);
  CHECK(check(pub, header(token)).ok());
}

TEST_CASE("signed token: malformed and missing tokens, with the v1 messages' style") {
  NodeKey key = make_key(KeyAlgorithm::kEd25519);
  PublicKey pub = public_of(key);
  const std::string sig = base64url_encode(std::string(64, 'x'));
  const std::string malformed = "malformed token (expected s1.<expiry>.<signature>)";
  for (std::string bad :
       {std::string("s1."), std::string("s1.1800000060"), "s1.1800000060." + std::string(""),
        "s1.01800000060." + sig, "s1.-1800000060." + sig, "s1.+1800000060." + sig, "s1.18x." + sig,
        "s1.1800000060." + sig + "=", "s1.1800000060." + sig + "+",
        "s1.1800000060." + std::string(200, 'A'), "v1.1800000060." + sig, "s2.1800000060." + sig,
        "s1.99999999999999999999." + sig}) {
    CAPTURE(bad);
    Status st = check(pub, header(bad));
    CHECK(st.code == Code::kForbidden);
    CHECK(st.message == malformed);
  }
  Status st = check(pub, header(""));
  CHECK(st.code == Code::kForbidden);
  CHECK(st.message == "missing token (x-ptp-token)");

  AuthConfig off;
  off.enabled = false;
  std::optional<int64_t> expiry;
  CHECK(verify_signed_token(pub, off, header("garbage"), kNow, expiry).ok());
  CHECK_FALSE(expiry.has_value());
}

TEST_CASE("signed token: expiry, lifetime and clock skew as v1 tokens") {
  NodeKey key = make_key(KeyAlgorithm::kSm2);
  PublicKey pub = public_of(key);
  auto at = [&](int64_t expiry) {
    return header(mint_signed_token(key, "nodeA", "nodeB", "sess-1", expiry));
  };
  AuthConfig bounds;  // skew 300 s, lifetime 24 h
  CHECK(check(pub, at(kNow - 300)).ok());
  Status st = check(pub, at(kNow - 301));
  CHECK(st.code == Code::kForbidden);
  CHECK(st.message == "token expired 301 s ago (allowed clock skew 300 s)");
  CHECK(check(pub, at(kNow + 24 * 3600 + 300)).ok());
  st = check(pub, at(kNow + 24 * 3600 + 301));
  CHECK(st.code == Code::kForbidden);
  CHECK(st.message.find("beyond the maximum token lifetime of 86400 s") != std::string::npos);
  // An expired token that is not authentic reports the signature, not the expiry.
  PtpHeader h = at(kNow - 1000);
  h.session_id = "other";
  CHECK(check(pub, h).message == "token signature does not match (session/source/target binding)");
}

TEST_CASE("signed token: the signature checks out with the openssl command line") {
  TrustTempDir dir;
  NodeKey key = make_key(KeyAlgorithm::kEcdsaP256);
  const std::string token = mint_signed_token(key, "nodeA", "nodeB", "sess-1", kNow);
  auto sig = base64url_decode(token.substr(token.rfind('.') + 1));
  REQUIRE(sig.has_value());
  dir.write("sig", *sig);
  dir.write("pub.pem", public_of(key).pem());
  dir.write("msg", "ptp-token-s1\nnodeA\nnodeB\nsess-1\n" + std::to_string(kNow));
  dir.write("other", "ptp-token-s1\nnodeR\nnodeB\nsess-1\n" + std::to_string(kNow));
  const std::string verify = "openssl pkeyutl -verify -pubin -inkey " + dir.file("pub.pem") +
                             " -rawin -digest sha256 -sigfile " + dir.file("sig") + " -in ";
  CHECK(run_shell(verify + dir.file("msg"), dir.file("out")) == 0);
  CHECK(run_shell(verify + dir.file("other"), dir.file("out")) != 0);
}
