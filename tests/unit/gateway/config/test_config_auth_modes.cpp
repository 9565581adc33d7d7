// What the authentication modes need from the configuration (gateway/config/
// config_auth_modes.cpp): keys only where hmac is in use, identity.dir and pinned roots for
// signature; the node key loaded with the configuration.
#include <doctest/doctest.h>

#include <string>

#include "gateway/config/config.h"
#include "tests/unit/gateway/config/config_test_support.h"
#include "tests/unit/identity_test_support.h"
#include "trust/signed_token.h"

using namespace ptp;
using ptp::testing::error_of;
using ptp::testing::IdentityDir;
using ptp::testing::new_node_key;
using ptp::testing::parse_ok;
using ptp::testing::root_pem_for;

TEST_CASE("auth mode signature: no hmac keys needed, the node key is loaded, roots pinned") {
  NodeKey key_b = new_node_key();
  IdentityDir id(key_b, "B");
  const std::string root_a = id.write("a-root.crt", root_pem_for(new_node_key(), "A"));
  const std::string head =
      "node: {node_id: B}\nlisten: {port: 1}\nidentity: {dir: \"" + id.dir() + "\"}\n";
  const std::string peer_a =
      "peers: [{node_id: A, address: \"h:1\", root_file: \"" + root_a + "\"}]\n";

  // A router that only relays signature traffic holds no hmac key at all.
  ConfigPtr cfg = parse_ok(head + "auth: {mode: signature}\n" + peer_a);
  CHECK(cfg->auth.node_keys.empty());
  REQUIRE(cfg->identity.node_key);
  // The loaded key is node.key: what it signs verifies with B's public key.
  std::string error;
  auto pub = key_b.public_key(error);
  REQUIRE(pub);
  PtpHeader h;
  h.source_node_id = "B";
  h.target_node_id = "A";
  h.session_id = "s";
  h.token = mint_signed_token(*cfg->identity.node_key, "B", "A", "s", 1700000060);
  std::optional<int64_t> expiry;
  CHECK(verify_signed_token(*pub, cfg->auth, h, 1700000000, expiry).ok());

  // An edge node keeps its own key for its containers.
  cfg = parse_ok(head + "auth: {mode: signature, node_keys: {B: k}}\n" + peer_a);
  CHECK(cfg->auth.node_keys.size() == 1);

  // Signature without identity.dir.
  CHECK(error_of("node: {node_id: B}\nlisten: {port: 1}\nauth: {mode: signature}\n" + peer_a) ==
        "t.yaml: identity.dir: auth mode signature is in use: this node signs its tokens with "
        "identity.dir/node.key, so identity.dir is required");
  // ... also when only one peer uses it.
  CHECK(error_of("node: {node_id: B}\nlisten: {port: 1}\nauth: {node_keys: {B: k}}\n"
                 "peers: [{node_id: A, address: \"h:1\", auth: signature, root_file: \"" +
                 root_a + "\"}]\n")
            .find("t.yaml: identity.dir: auth mode signature is in use") == 0);

  // A signature peer without a pinned root, by auth.mode or by its own auth.
  CHECK(error_of(head + "auth: {mode: signature}\npeers: [{node_id: A, address: \"h:1\"}]\n") ==
        "t.yaml: peers[0]: peer \"A\" uses auth mode signature (auth.mode): its tokens are "
        "checked with its pinned root, so root_file is required (or a peering handshake "
        "record)");
  CHECK(error_of(head + "auth: {node_keys: {B: k}}\n"
                        "peers: [{node_id: A, via: R, auth: signature}, "
                        "{node_id: R, address: \"h:1\"}]\n") ==
        "t.yaml: peers[0]: peer \"A\" uses auth mode signature (peers[0].auth): its tokens are "
        "checked with its pinned root, so root_file is required (or a peering handshake "
        "record)");
  // A root file that is no certificate.
  const std::string junk = id.write("junk.crt", "not a certificate\n");
  CHECK(error_of(head +
                 "auth: {mode: signature}\npeers: [{node_id: A, address: \"h:1\", "
                 "root_file: \"" +
                 junk + "\"}]\n")
            .find("t.yaml: peers[0].root_file: ") == 0);

  // hmac peers need keys.
  CHECK(error_of(head + "auth: {mode: signature}\n"
                        "peers: [{node_id: A, address: \"h:1\", auth: hmac}]\n") ==
        "t.yaml: peers[0].auth: peer \"A\" uses auth mode hmac, whose tokens are checked with "
        "auth.node_keys, but no keys are configured");
  // Passthrough and none need neither keys nor roots.
  parse_ok(head +
           "auth: {mode: passthrough, allow_none: true}\n"
           "peers: [{node_id: A, address: \"h:1\"}, {node_id: N, address: \"h:2\", auth: none}]\n");
  // Auth disabled: nothing is required.
  parse_ok(
      "node: {node_id: B}\nlisten: {port: 1}\nauth: {enabled: false, mode: signature}\n"
      "peers: [{node_id: A, address: \"h:1\"}]\n");
}

TEST_CASE("identity.dir: a node key that does not load rejects the configuration") {
  NodeKey key = new_node_key();
  IdentityDir id(key, "B");
  id.write("id/node.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  CHECK(error_of("node: {node_id: B}\nlisten: {port: 1}\nauth: {enabled: false}\n"
                 "identity: {dir: \"" +
                 id.dir() + "\"}\n")
            .find("t.yaml: identity.dir: cannot load the node key \"" + id.dir() +
                  "/node.key\": ") == 0);
}

TEST_CASE("router_server: this node's hmac key is needed only while hmac is in use") {
  NodeKey key = new_node_key();
  IdentityDir id(key, "A");
  const std::string root_h = id.write("h-root.crt", root_pem_for(new_node_key(), "H"));
  const std::string yaml = "node: {node_id: A}\nlisten: {port: 1}\nidentity: {dir: \"" + id.dir() +
                           "\"}\nauth: {mode: signature}\npeers: [{node_id: H, address: \"h:1\", "
                           "root_file: \"" +
                           root_h + "\"}]\nrouter_server: {role: A, job_sources: [H]}\n";
  parse_ok(yaml);
}
