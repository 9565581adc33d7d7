#include <doctest/doctest.h>

#include <string>

#include "gateway/pipeline/identity_binding.h"

using namespace ptp;

namespace {

PeerConfig direct(std::string id, bool pinned, bool relay = false) {
  PeerConfig p;
  p.node_id = std::move(id);
  p.address = Endpoint{"127.0.0.1", 1};
  if (pinned) p.root_pem = "-----BEGIN CERTIFICATE-----";
  p.relay = relay;
  return p;
}

PeerConfig via(std::string id, std::string hop, bool pinned = false) {
  PeerConfig p;
  p.node_id = std::move(id);
  p.via = std::move(hop);
  if (pinned) p.root_pem = "-----BEGIN CERTIFICATE-----";
  return p;
}

// This node is B. A: a pinned direct peer; R: a pinned relay; S: reached via R;
// T: reached via A (not a relay); U: an unpinned direct peer; C: pinned, not a relay.
Config config() {
  Config c;
  c.node_id = "B";
  c.peers = {direct("A", true), direct("R", true, true), via("S", "R", true),
             via("T", "A"),     direct("U", false),      direct("C", true)};
  return c;
}

Status check(const Config& c, std::string_view source, std::string_view hop,
             Interface iface = Interface::kInvoke) {
  const bool queue = iface == Interface::kPush || iface == Interface::kPop ||
                     iface == Interface::kPeek || iface == Interface::kRelease;
  return check_identity_binding(c, iface, queue, source, hop);
}

}  // namespace

TEST_CASE("identity binding: a hop speaking for itself, and this node's containers") {
  Config c = config();
  CHECK(check(c, "A", "A").ok());
  CHECK(check(c, "B", "").ok());  // a container of B, no certificate
  CHECK(check(c, "", "").ok());
  CHECK(check(c, "U", "").ok());  // no pinned root: nothing to bind (token checks apply)
  CHECK(check(c, "nobody", "").ok());
}

TEST_CASE("identity binding: a hop claiming another source needs to relay for it") {
  Config c = config();
  Status st = check(c, "C", "A");
  CHECK(st.code == Code::kBadCertSignature);
  CHECK(st.message == "hop A presented a certificate of A but the request claims source C");
  CHECK(check(c, "S", "R").ok());  // R has relay: true
  CHECK(check(c, "C", "R").ok());  // ... for any source
  CHECK(check(c, "T", "A").ok());  // T's next hop is A
  CHECK(check(c, "nobody", "A").code == Code::kBadCertSignature);
  CHECK(check(c, "S", "C").code == Code::kBadCertSignature);
}

TEST_CASE("identity binding: a hop identity never speaks as this node") {
  Config c = config();
  Status st = check(c, "B", "A");
  CHECK(st.code == Code::kBadCertSignature);
  CHECK(st.message ==
        "hop A presented a certificate of A but the request claims source B "
        "(this node)");
  CHECK(check(c, "B", "R").code == Code::kBadCertSignature);  // relay or not
}

TEST_CASE("identity binding: a pinned source must come with its certificate") {
  Config c = config();
  Status st = check(c, "A", "");
  CHECK(st.code == Code::kBadCertSignature);
  CHECK(st.message == "peer A must connect with its certificate (its root is pinned here)");
  CHECK(check(c, "S", "").code == Code::kBadCertSignature);
  // T is not pinned itself, but its next hop A is.
  CHECK(check(c, "T", "").code == Code::kBadCertSignature);
}

TEST_CASE("identity binding: queue interfaces are for this node's containers") {
  Config c = config();
  for (Interface i : {Interface::kPop, Interface::kPeek, Interface::kRelease, Interface::kPush}) {
    CAPTURE(interface_name(i));
    Status st = check(c, "A", "A", i);
    CHECK(st.code == Code::kNotPermitted);
    CHECK(st.message == "queue interface " + std::string(interface_name(i)) +
                            " is for this node's containers; peer A may not call it");
    CHECK(check(c, "", "R", i).code == Code::kNotPermitted);
    CHECK(check(c, "B", "", i).ok());  // a container
  }
  // A peer's push to a queue here arrives as an invoke (the outbox): bound as any invoke.
  CHECK(check(c, "A", "A", Interface::kInvoke).ok());
}
