#include <doctest/doctest.h>

#include <string>

#include "gateway/config/config.h"

using namespace ptp;

namespace {

const std::string kBase = R"(
node: {node_id: A, inst_id: INST_A}
listen: {port: 17304}
auth: {node_keys: {A: "k-a"}}
)";

ConfigPtr parse(const std::string& section, std::string& error) {
  return parse_config_text(kBase + section, "t.yaml", error);
}

std::string error_of(const std::string& section) {
  std::string error;
  ConfigPtr cfg = parse(section, error);
  CHECK_FALSE(cfg);
  return error;
}

}  // namespace

TEST_CASE("authorization: absent section leaves everything allowed") {
  std::string error;
  ConfigPtr cfg = parse("", error);
  REQUIRE(cfg);
  CHECK_FALSE(cfg->authorization.enabled);
}

TEST_CASE("authorization: policies parsed, default deny, '*' as fallback") {
  std::string error;
  ConfigPtr cfg = parse(R"(
authorization:
  peers:
    - node: B
      interfaces: [invoke, push]
      uris: ["svc.a*"]
      topics: ["t.*"]
      router_jobs: true
    - node: "*"
      interfaces: [transport]
)",
                        error);
  REQUIRE_MESSAGE(cfg, error);
  const AuthorizationConfig& a = cfg->authorization;
  CHECK(a.enabled);
  CHECK_FALSE(a.default_allow);
  REQUIRE(a.peers.size() == 2);
  CHECK(a.peers[0].interfaces == std::vector<Interface>{Interface::kInvoke, Interface::kPush});
  CHECK(a.peers[0].uris == std::vector<std::string>{"svc.a*"});
  CHECK(a.peers[0].topics == std::vector<std::string>{"t.*"});
  CHECK(a.peers[0].router_jobs);
  CHECK_FALSE(a.peers[1].router_jobs);
  CHECK(find_peer_policy(a, "B") == &a.peers[0]);
  CHECK(find_peer_policy(a, "C") == &a.peers[1]);
}

TEST_CASE("authorization: default allow, and an empty section denies") {
  std::string error;
  ConfigPtr cfg = parse("authorization: {default: allow}\n", error);
  REQUIRE_MESSAGE(cfg, error);
  CHECK(cfg->authorization.default_allow);
  cfg = parse("authorization:\n", error);
  REQUIRE_MESSAGE(cfg, error);
  CHECK(cfg->authorization.enabled);
  CHECK_FALSE(cfg->authorization.default_allow);
  CHECK(find_peer_policy(cfg->authorization, "B") == nullptr);
}

TEST_CASE("authorization: precise errors") {
  CHECK(error_of("authorization: {peers: [{node: B, interfaces: [invok]}]}\n") ==
        "t.yaml: authorization.peers[0].interfaces[0]: unknown interface \"invok\" (expected one "
        "of: invoke, transport, push, pop, peek, release)");
  CHECK(error_of("authorization: {peers: [{node: B, interfaces: [weave]}]}\n")
            .find("unknown interface \"weave\"") != std::string::npos);
  CHECK(error_of("authorization: {peers: [{node: B, uris: [\"\"]}]}\n") ==
        "t.yaml: authorization.peers[0].uris[0]: empty pattern");
  CHECK(error_of("authorization: {peers: [{node: B, topics: [\"\"]}]}\n") ==
        "t.yaml: authorization.peers[0].topics[0]: empty pattern");
  CHECK(error_of("authorization: {peers: [{node: B}, {node: C}, {node: B}]}\n") ==
        "t.yaml: authorization.peers[2].node: duplicate peer \"B\" (also authorization.peers[0])");
  CHECK(error_of("authorization: {default: maybe}\n") ==
        "t.yaml: authorization.default: expected deny or allow, got \"maybe\"");
  CHECK(error_of("authorization: {peers: [{node: B, uri: [x]}]}\n").find("unknown key") !=
        std::string::npos);
  CHECK(error_of("authorization: {peers: [{interfaces: [invoke]}]}\n") ==
        "t.yaml: authorization.peers[0].node: required key is missing");
  CHECK(error_of("authorization: {peers: [{node: B, uris: x}]}\n")
            .find("authorization.peers[0].uris: expected a list") != std::string::npos);
}

TEST_CASE("authorization: require_permit, and the permits section's store") {
  std::string error;
  ConfigPtr cfg = parse(R"(
authorization:
  peers:
    - {node: B, interfaces: [invoke], uris: ["svc.*"], require_permit: true}
    - {node: C, interfaces: [invoke]}
permits: {store: /var/lib/ptp/permits}
)",
                        error);
  REQUIRE_MESSAGE(cfg, error);
  CHECK(cfg->authorization.peers[0].require_permit);
  CHECK_FALSE(cfg->authorization.peers[1].require_permit);
  CHECK(cfg->permits.store == "/var/lib/ptp/permits");
  cfg = parse("", error);
  REQUIRE_MESSAGE(cfg, error);
  CHECK(cfg->permits.store.empty());  // <data dir>/permits
  CHECK(error_of("authorization: {peers: [{node: B, require_permit: maybe}]}\n")
            .find("authorization.peers[0].require_permit") != std::string::npos);
  CHECK(error_of("permits: {stor: x}\n").find("permits.stor: unknown key") != std::string::npos);
}
