#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "common/glob.h"
#include "gateway/config/config.h"
#include "gateway/route/route_table.h"
#include "tests/unit/source_dir.h"

using namespace ptp;

namespace {

ConfigPtr parse(const std::string& yaml) {
  std::string error;
  ConfigPtr cfg = parse_config_text(yaml, "route.yaml", error);
  INFO(error);
  REQUIRE(cfg);
  return cfg;
}

PtpHeader to(std::string node, std::string inst = {}, std::string uri = "ptp/echo") {
  PtpHeader h;
  h.target_node_id = std::move(node);
  h.target_inst_id = std::move(inst);
  h.uri = std::move(uri);
  return h;
}

const std::string kRouter = R"(
node: {node_id: R1, inst_id: INST_R1, role: router}
listen: {port: 17316}
auth: {enabled: false}
peers:
  - {node_id: B, inst_id: INST_B, address: "127.0.0.1:17315"}
  - {node_id: R2, address: "127.0.0.1:17317", protocol: grpc}
  - {node_id: C, inst_id: INST_C, via: R2}
  - {node_id: D, via: C}
local_services:
  - {uri: "ptp/echo*", address: "127.0.0.1:18080", path: /echo}
  - {uri: "*", address: "127.0.0.1:18099"}
)";

// kRouter plus more lines (appended, not operator+: GCC 12 warns falsely on that at -O2).
std::string router_with(std::string_view extra) {
  std::string s = kRouter;
  s.append(extra);
  return s;
}

}  // namespace

TEST_CASE("glob_match") {
  CHECK(glob_match("ptp/echo*", "ptp/echo"));
  CHECK(glob_match("ptp/echo*", "ptp/echo/x"));
  CHECK_FALSE(glob_match("ptp/echo*", "ptp/ech"));
  CHECK_FALSE(glob_match("ptp/echo*", "xptp/echo"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("", ""));
  CHECK_FALSE(glob_match("", "a"));
  CHECK(glob_match("a*b*c", "aXXbYYc"));
  CHECK(glob_match("a*b*c", "abc"));
  CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
  CHECK(glob_match("*/diag/*", "ptp/diag/echo"));
  CHECK(glob_match("a**b", "ab"));
  CHECK(glob_match("exact", "exact"));
  CHECK_FALSE(glob_match("exact", "exactly"));
  CHECK_FALSE(glob_match("a?c", "abc"));  // only '*' is special
  CHECK(glob_match("*aab", "aaaab"));     // needs backtracking
  // Pathological input stays fast (no exponential backtracking).
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(10000, 'a')));
}

TEST_CASE("route to a direct peer by node id") {
  ConfigPtr cfg = parse(kRouter);
  RouteDecision d = resolve_route(*cfg, to("B"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.target_peer == &cfg->peers[0]);
  CHECK(d.next_hop == &cfg->peers[0]);
  CHECK(d.route_name == "peer:B");
}

TEST_CASE("route through a via peer resolves the next hop") {
  ConfigPtr cfg = parse(kRouter);
  RouteDecision d = resolve_route(*cfg, to("C"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.target_peer->node_id == "C");
  CHECK(d.next_hop->node_id == "R2");
  CHECK(d.next_hop->protocol == PeerProtocol::kGrpc);
  CHECK(d.route_name == "peer:C");
  // A chain: D via C via R2.
  d = resolve_route(*cfg, to("D"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.target_peer->node_id == "D");
  CHECK(d.next_hop->node_id == "R2");
}

TEST_CASE("institution id is the fallback when the node id matches no peer") {
  ConfigPtr cfg = parse(kRouter);
  RouteDecision d = resolve_route(*cfg, to("", "INST_C"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.target_peer->node_id == "C");
  CHECK(d.next_hop->node_id == "R2");
  d = resolve_route(*cfg, to("unknown", "INST_B"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.target_peer->node_id == "B");
  // The node id wins over the institution id.
  d = resolve_route(*cfg, to("B", "INST_C"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.target_peer->node_id == "B");
}

TEST_CASE("default route and not peered") {
  ConfigPtr cfg = parse(kRouter);
  RouteDecision d = resolve_route(*cfg, to("Z", "INST_Z"));
  REQUIRE(d.kind == RouteDecision::Kind::kError);
  CHECK(d.error.code == Code::kNotPeered);
  CHECK(d.error.message ==
        "node 'Z' (institution 'INST_Z') is not peered with node R1 and no default route is "
        "configured");
  CHECK(d.error.hop == "R1");

  ConfigPtr with_default = parse(router_with("default_route: C\n"));
  d = resolve_route(*with_default, to("Z"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.target_peer->node_id == "C");
  CHECK(d.next_hop->node_id == "R2");
  CHECK(d.route_name == "default:C");
}

TEST_CASE("local routes: diag, first matching service, 404") {
  ConfigPtr cfg = parse(kRouter);
  RouteDecision d = resolve_route(*cfg, to("R1", "", "ptp/diag/echo"));
  CHECK(d.kind == RouteDecision::Kind::kDiag);
  CHECK(d.route_name == "diag");

  d = resolve_route(*cfg, to("R1", "", "ptp/echo/big"));
  REQUIRE(d.kind == RouteDecision::Kind::kLocalService);
  CHECK(d.service == &cfg->local_services[0]);
  CHECK(d.route_name == "local:ptp/echo*");

  d = resolve_route(*cfg, to("R1", "", "other"));
  REQUIRE(d.kind == RouteDecision::Kind::kLocalService);
  CHECK(d.service == &cfg->local_services[1]);
  CHECK(d.route_name == "local:*");

  // Addressed by institution only.
  d = resolve_route(*cfg, to("", "INST_R1", "ptp/diag/echo"));
  CHECK(d.kind == RouteDecision::Kind::kDiag);

  ConfigPtr no_services = parse(
      "node: {node_id: B, inst_id: INST_B}\nlisten: {port: 1}\nauth: {enabled: false}\n"
      "local_services:\n  - {uri: \"ptp/echo*\", address: \"h:1\"}\n");
  d = resolve_route(*no_services, to("B", "", "ptp/other"));
  REQUIRE(d.kind == RouteDecision::Kind::kError);
  CHECK(d.error.code == Code::kNotFound);
  CHECK(d.error.message == "no local service for uri 'ptp/other' at node B");
  CHECK(d.error.hop == "B");
  d = resolve_route(*no_services, to("B", "", "ptp/diag/echo/x"));
  CHECK(d.kind == RouteDecision::Kind::kError);  // diag is the exact uri only
}

TEST_CASE("a request without any target is a bad request") {
  ConfigPtr cfg = parse(router_with("default_route: B\n"));
  RouteDecision d = resolve_route(*cfg, to("", ""));
  REQUIRE(d.kind == RouteDecision::Kind::kError);
  CHECK(d.error.code == Code::kBadRequest);
}

TEST_CASE("shipped routed configs: A->R1->B and A->R1->R2->C") {
  const auto conf = ptp::testing::source_dir() / "conf/routed";
  std::string error;
  ConfigPtr a = load_config((conf / "a.yaml").string(), error);
  ConfigPtr r1 = load_config((conf / "r1.yaml").string(), error);
  ConfigPtr r2 = load_config((conf / "r2.yaml").string(), error);
  ConfigPtr c = load_config((conf / "c.yaml").string(), error);
  INFO(error);
  REQUIRE((a && r1 && r2 && c));
  RouteDecision d = resolve_route(*a, to("C"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.next_hop->node_id == "R1");
  CHECK(d.route_name == "default:R1");
  d = resolve_route(*r1, to("B"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.next_hop->node_id == "B");
  d = resolve_route(*r1, to("C"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.next_hop->node_id == "R2");
  d = resolve_route(*r2, to("C"));
  REQUIRE(d.kind == RouteDecision::Kind::kPeer);
  CHECK(d.next_hop->node_id == "C");
  d = resolve_route(*c, to("C", "", "ptp/echo"));
  REQUIRE(d.kind == RouteDecision::Kind::kLocalService);
  CHECK(d.service->address.port == 18082);
}
