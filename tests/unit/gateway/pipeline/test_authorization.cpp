#include <doctest/doctest.h>

#include <string>

#include "gateway/pipeline/authorization.h"

using namespace ptp;

namespace {

Config holder() {
  Config cfg;
  cfg.node_id = "A";
  cfg.authorization.enabled = true;
  PeerPolicy b;
  b.node_id = "B";
  b.interfaces = {Interface::kInvoke, Interface::kPush};
  b.uris = {"svc.a*", "exact.uri"};
  b.topics = {"jobs.*"};
  cfg.authorization.peers.push_back(b);
  return cfg;
}

AuthzRequest req(std::string_view source, Interface i, std::string_view uri,
                 std::string_view topic = {}, std::string_view target = "A") {
  AuthzRequest r;
  r.source = source;
  r.target = target;
  r.iface = i;
  r.uri = uri;
  r.topic = topic;
  return r;
}

}  // namespace

TEST_CASE("authorize: no authorization section allows every peer") {
  Config cfg = holder();
  cfg.authorization = {};
  CHECK(authorize(cfg, req("Z", Interface::kTransport, "anything")) == AuthzReason::kNone);
}

TEST_CASE("authorize: uri globs of the peer's policy") {
  const Config cfg = holder();
  CHECK(authorize(cfg, req("B", Interface::kInvoke, "svc.alpha")) == AuthzReason::kNone);
  CHECK(authorize(cfg, req("B", Interface::kInvoke, "svc.a")) == AuthzReason::kNone);
  CHECK(authorize(cfg, req("B", Interface::kInvoke, "exact.uri")) == AuthzReason::kNone);
  CHECK(authorize(cfg, req("B", Interface::kInvoke, "svc.beta")) == AuthzReason::kUri);
  CHECK(authorize(cfg, req("B", Interface::kInvoke, "exact.uri2")) == AuthzReason::kUri);
  CHECK(authorize(cfg, req("B", Interface::kInvoke, "")) == AuthzReason::kUri);
}

TEST_CASE("authorize: an interface not listed is refused, even for an allowed uri") {
  const Config cfg = holder();
  CHECK(authorize(cfg, req("B", Interface::kTransport, "svc.alpha")) == AuthzReason::kInterface);
}

TEST_CASE("authorize: push topics") {
  const Config cfg = holder();
  CHECK(authorize(cfg, req("B", Interface::kPush, "ptp/queue/push", "jobs.1")) ==
        AuthzReason::kNone);
  CHECK(authorize(cfg, req("B", Interface::kPush, "ptp/queue/push", "other")) ==
        AuthzReason::kTopic);
  CHECK(authorize(cfg, req("B", Interface::kPush, "ptp/queue/push", "")) == AuthzReason::kTopic);
}

TEST_CASE("authorize: a peer without a policy: default deny, or default allow") {
  Config cfg = holder();
  CHECK(authorize(cfg, req("C", Interface::kInvoke, "svc.alpha")) == AuthzReason::kNoPolicy);
  cfg.authorization.default_allow = true;
  CHECK(authorize(cfg, req("C", Interface::kInvoke, "svc.alpha")) == AuthzReason::kNone);
  // B has a policy: default allow does not widen it.
  CHECK(authorize(cfg, req("B", Interface::kInvoke, "svc.beta")) == AuthzReason::kUri);
}

TEST_CASE("authorize: '*' applies to peers without their own entry") {
  Config cfg = holder();
  PeerPolicy any;
  any.node_id = "*";
  any.interfaces = {Interface::kTransport};
  any.uris = {"public.*"};
  cfg.authorization.peers.push_back(any);
  CHECK(authorize(cfg, req("C", Interface::kTransport, "public.x")) == AuthzReason::kNone);
  CHECK(authorize(cfg, req("C", Interface::kInvoke, "public.x")) == AuthzReason::kInterface);
  CHECK(authorize(cfg, req("C", Interface::kTransport, "svc.alpha")) == AuthzReason::kUri);
  // B's own entry wins over "*".
  CHECK(authorize(cfg, req("B", Interface::kTransport, "public.x")) == AuthzReason::kInterface);
}

TEST_CASE("authorize: this node's own containers are not subject to the policies") {
  const Config cfg = holder();
  CHECK(authorize(cfg, req("A", Interface::kInvoke, "svc.beta")) == AuthzReason::kNone);
  CHECK(authorize(cfg, req("A", Interface::kPop, "")) == AuthzReason::kNone);
}

TEST_CASE("authorize: traffic relayed for other nodes is left to their holders") {
  const Config cfg = holder();
  CHECK(authorize(cfg, req("C", Interface::kInvoke, "svc.beta", {}, "D")) == AuthzReason::kNone);
  CHECK(authorize(cfg, req("B", Interface::kTransport, "x", {}, "D")) == AuthzReason::kNone);
}

TEST_CASE("authz_refusal: E0000000614 naming the peer and what was refused") {
  const Config cfg = holder();
  auto r = req("B", Interface::kInvoke, "svc.beta");
  Status st = authz_refusal(cfg, r, authorize(cfg, r));
  CHECK(st.code == Code::kNotPermitted);
  CHECK(st.message == "node B is not authorized to call invoke on x-ptp-uri 'svc.beta' at node A");
  r = req("B", Interface::kPush, "ptp/queue/push", "other");
  CHECK(authz_refusal(cfg, r, authorize(cfg, r)).message ==
        "node B is not authorized to push to topic 'other' at node A");
  r = req("C", Interface::kInvoke, "svc.alpha");
  CHECK(authz_refusal(cfg, r, authorize(cfg, r)).message ==
        "node C has no authorization policy at node A (authorization.default: deny)");
  CHECK(authz_reason_name(AuthzReason::kNoPolicy) == "no_policy");
}
