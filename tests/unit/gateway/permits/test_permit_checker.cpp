// The checks of a presented permit on an I/O thread (gateway/permits/permit_checker.h).
#include <doctest/doctest.h>

#include "codecs/base64.h"
#include "gateway/permits/permit_attach.h"
#include "gateway/permits/permit_checker.h"
#include "trust/node_key.h"

using namespace ptp;

namespace {

constexpr int64_t kNow = 1'800'000'000;

struct Fixture {
  NodeKey key = *NodeKey::generate(KeyAlgorithm::kEcdsaP256, error);
  PublicKey pub = *key.public_key(error);
  std::string error;

  std::string issue(std::string grantee = "A", std::string type = "service",
                    std::string resource = "svc.*", int level = 1) {
    PermitPayload p;
    p.id = std::string(31, '0') + std::to_string(level);
    p.holder = "B";
    p.grantee = grantee;
    p.type = type;
    p.resource = resource;
    p.level = level;
    p.not_before = kNow - 10;
    p.not_after = kNow + 10;
    auto permit = issue_permit(key, p, error);
    REQUIRE_MESSAGE(permit.has_value(), error);
    return permit->text;
  }
};

Status check(PermitChecker& c, const PublicKey& pub, const std::string& text,
             std::string_view resource = "svc.alpha", int64_t now = kNow,
             std::string_view type = "service") {
  std::string id;
  Status st = c.check(pub, text, PermitScope{"B", "A", type, resource}, now, id);
  CHECK(id.empty() != st.ok());
  return st;
}

}  // namespace

TEST_CASE("permit checker: scope, grantee, time window and signature") {
  Fixture f;
  PermitChecker c;
  const std::string good = f.issue();
  CHECK(check(c, f.pub, good).ok());
  CHECK(check(c, f.pub, good).ok());  // again, from the cache
  Status st = check(c, f.pub, good, "other.x");
  CHECK(st.code == Code::kNotPermitted);
  CHECK(st.message.find("covers service 'svc.*', not service 'other.x'") != std::string::npos);
  st = check(c, f.pub, good, "svc.alpha", kNow, "topic");
  CHECK(st.code == Code::kNotPermitted);
  st = check(c, f.pub, good, "svc.alpha", kNow + 11);
  CHECK(st.code == Code::kNotPermitted);
  CHECK(st.message.find("expired at 2027-01-15T08:00:10Z") != std::string::npos);
  st = check(c, f.pub, good, "svc.alpha", kNow - 11);
  CHECK(st.message.find("is not valid before") != std::string::npos);
  st = check(c, f.pub, f.issue("C"));
  CHECK(st.code == Code::kNotPermitted);
  CHECK(st.message.find("was granted to node C, not to node A") != std::string::npos);
  // Another holder's key: not signed by this node.
  Fixture other;
  st = check(c, other.pub, other.issue() + "");
  CHECK(st.ok());  // other's own permit for "B" checks with other's key...
  PermitChecker fresh;
  st = check(fresh, f.pub, other.issue());
  CHECK(st.code == Code::kBadCertSignature);  // ...not with B's
  CHECK(st.message.find("is not signed by its holder B") != std::string::npos);
  st = check(c, f.pub, "ptpp1.x.y");
  CHECK(st.code == Code::kBadCertSignature);
  CHECK(st.message.find("x-ptp-permit:") != std::string::npos);
  CHECK(check(c, f.pub, std::string(5000, 'p')).code == Code::kBadCertSignature);
}

TEST_CASE("permit attach: the held permit for the holder and resource, highest level first") {
  Fixture f;
  std::string error;
  HeldPermits held;
  for (auto [type, resource, level] : {std::tuple{"service", "svc.*", 2},
                                       {"service", "svc.a*", 5},
                                       {"topic", "jobs.*", 1},
                                       {"router_job", "job-*", 3}}) {
    auto p = parse_permit(f.issue("A", type, resource, level), error);
    REQUIRE(p);
    held.push_back(*p);
  }
  CHECK(find_held_permit(held, "B", {"service", "svc.alpha"}, kNow)->payload.level == 5);
  CHECK(find_held_permit(held, "B", {"service", "svc.beta"}, kNow)->payload.level == 2);
  CHECK(find_held_permit(held, "C", {"service", "svc.beta"}, kNow) == nullptr);
  CHECK(find_held_permit(held, "B", {"service", "svc.beta"}, kNow + 11) == nullptr);
  Envelope push;
  push.header.target_node_id = "B";
  push.header.uri = "ptp/queue/push";
  push.header.session_id = "job-7";
  push.meta["message-topic"] = "rs.job";
  CHECK(permit_ask(push).type == "router_job");
  CHECK(permit_ask(push).resource == "job-7");
  CHECK(attach_held_permit(held, push, kNow));
  CHECK(push.meta.at("x-ptp-permit") == held[3].text);
  push.meta["message-topic"] = "jobs.x";
  push.meta.erase("x-ptp-permit");
  CHECK(attach_held_permit(held, push, kNow));
  CHECK(push.meta.at("x-ptp-permit") == held[2].text);
  CHECK_FALSE(attach_held_permit(held, push, kNow));  // one already there stays
}

TEST_CASE("permit checker: a peer's new permit texts do not flush another peer's permit") {
  // Peer Y presents a new text with each request: well-formed permits signed by another key
  // (each costs a signature check, refused 615) and malformed ones. Peer X's verified
  // permit stays cached: X pays no signature check again (before, every kMaxCached new
  // texts cleared the whole cache).
  Fixture f;
  Fixture forger;
  PermitChecker c;
  const std::string good = f.issue();
  REQUIRE(check(c, f.pub, good).ok());
  const uint64_t checks = c.signature_checks();
  CHECK(checks == 1);
  for (int i = 0; i < 1000; ++i) {
    std::string id;
    const std::string bad = i % 2 ? forger.issue("Y", "service", "svc." + std::to_string(i))
                                  : "ptpp1.bad" + std::to_string(i) + ".x";
    Status st = c.check(f.pub, bad, PermitScope{"B", "Y", "service", "svc.alpha"}, kNow, id);
    CHECK(st.code == Code::kBadCertSignature);
    if (i % 100 == 0) REQUIRE(check(c, f.pub, good).ok());  // X now and then
  }
  CHECK(check(c, f.pub, good).ok());
  CHECK(c.signature_checks() == checks + 500);  // Y's forged ones only
  // A text refused before is refused again from the cache while it is recent.
  const std::string again = forger.issue("Y", "service", "svc.again");
  std::string id;
  CHECK(c.check(f.pub, again, PermitScope{"B", "Y", "service", "svc.again"}, kNow, id).code ==
        Code::kBadCertSignature);
  CHECK(c.check(f.pub, again, PermitScope{"B", "Y", "service", "svc.again"}, kNow, id).code ==
        Code::kBadCertSignature);
  CHECK(c.signature_checks() == checks + 501);
}
