// What `crypto: gm` asks of the configuration (gateway/config/config_crypto.cpp): an SM2
// node key, SM2 pinned roots, and g1 (HMAC-SM3) hmac tokens; the international profile
// takes any node key algorithm and v1 tokens.
#include <doctest/doctest.h>

#include <string>

#include "gateway/config/config.h"
#include "gateway/config/config_store.h"
#include "gateway/config/peer_root.h"
#include "tests/unit/gateway/config/config_test_support.h"
#include "tests/unit/identity_test_support.h"

using namespace ptp;
using ptp::testing::error_of;
using ptp::testing::IdentityDir;
using ptp::testing::new_node_key;
using ptp::testing::parse_ok;
using ptp::testing::root_pem_for;

namespace {

std::string head(const IdentityDir& id, const std::string& crypto) {
  return "node: {node_id: B}\nlisten: {port: 1}\nidentity: {dir: \"" + id.dir() +
         "\"}\nauth: {mode: signature}\ncrypto: " + crypto + "\n";
}

std::string peer_a(const std::string& root_file) {
  return "peers: [{node_id: A, address: \"h:1\", root_file: \"" + root_file + "\"}]\n";
}

}  // namespace

TEST_CASE("crypto gm: SM2 node key and SM2 pinned roots accepted, g1 tokens") {
  IdentityDir id(new_node_key(KeyAlgorithm::kSm2), "B");
  const std::string root_a =
      id.write("a-root.crt", root_pem_for(new_node_key(KeyAlgorithm::kSm2), "A"));
  ConfigPtr cfg = parse_ok(head(id, "gm") + peer_a(root_a));
  CHECK(cfg->crypto.gm);
  CHECK(cfg->crypto.digest == DigestAlgorithm::kSm3);
  CHECK(cfg->auth.token_mac == MacDigest::kSm3);
  REQUIRE(cfg->identity.node_key);
  CHECK(cfg->identity.node_key->algorithm() == KeyAlgorithm::kSm2);
  // The same files under the international profile: v1 tokens.
  cfg = parse_ok(head(id, "international") + peer_a(root_a));
  CHECK(cfg->auth.token_mac == MacDigest::kSha256);
  // Without identity and peers (hmac only), gm needs nothing more.
  cfg = parse_ok("node: {node_id: B}\nlisten: {port: 1}\nauth: {node_keys: {B: k}}\ncrypto: gm\n");
  CHECK(cfg->auth.token_mac == MacDigest::kSm3);
}

TEST_CASE("crypto gm: a node key that is not SM2 is refused, naming the file and algorithm") {
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519}) {
    CAPTURE(key_algorithm_name(alg));
    IdentityDir id(new_node_key(alg), "B");
    const std::string root_a =
        id.write("a-root.crt", root_pem_for(new_node_key(KeyAlgorithm::kSm2), "A"));
    CHECK(error_of(head(id, "gm") + peer_a(root_a)) ==
          "t.yaml: identity.dir: crypto: gm needs an SM2 node key, but \"" + id.dir() +
              "/node.key\" is " + std::string(key_algorithm_name(alg)) +
              " (make an SM2 identity with `ptpctl identity init --algorithm sm2`)");
    // The international profile takes it.
    parse_ok(head(id, "international") + peer_a(root_a));
  }
}

TEST_CASE("crypto gm: a pinned root that is not SM2 is refused, naming the peer and file") {
  IdentityDir id(new_node_key(KeyAlgorithm::kSm2), "B");
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519}) {
    CAPTURE(key_algorithm_name(alg));
    const std::string root_a = id.write(std::string(key_algorithm_name(alg)) + "-a-root.crt",
                                        root_pem_for(new_node_key(alg), "A"));
    CHECK(error_of(head(id, "gm") + peer_a(root_a)) ==
          "t.yaml: peers[0].root_file: peer \"A\": the pinned root \"" + root_a +
              "\" cannot be used: its key is " + std::string(key_algorithm_name(alg)) +
              " (crypto: gm takes SM2 node roots only)");
    parse_ok(head(id, "international") + peer_a(root_a));
  }
  // Also a pinned root of an hmac peer (it pins the peer's TLS).
  const std::string p256 = id.write("p256.crt", root_pem_for(new_node_key(), "A"));
  CHECK(error_of("node: {node_id: B}\nlisten: {port: 1}\nidentity: {dir: \"" + id.dir() +
                 "\"}\nauth: {node_keys: {A: k}}\ncrypto: gm\n" + peer_a(p256))
            .find("t.yaml: peers[0].root_file: peer \"A\": the pinned root") == 0);
}

TEST_CASE("gm_root_problem: empty for an SM2 root, the algorithm or the reason otherwise") {
  CHECK(gm_root_problem(root_pem_for(new_node_key(KeyAlgorithm::kSm2), "A")).empty());
  CHECK(gm_root_problem(root_pem_for(new_node_key(), "A")) ==
        "its key is ecdsa-p256 (crypto: gm takes SM2 node roots only)");
  CHECK(gm_root_problem("junk").find("the pinned root is not a PEM certificate") == 0);
}

TEST_CASE("crypto: a reload that changes the profile needs a restart") {
  ConfigPtr intl = parse_ok("node: {node_id: B}\nlisten: {port: 1}\nauth: {node_keys: {B: k}}\n");
  ConfigPtr gm =
      parse_ok("node: {node_id: B}\nlisten: {port: 1}\nauth: {node_keys: {B: k}}\ncrypto: gm\n");
  CHECK(restart_required(*intl, *gm) ==
        "reload rejected, a restart is needed to change crypto international -> gm (the "
        "running configuration is kept)");
  CHECK(restart_required(*gm, *gm).empty());
}
