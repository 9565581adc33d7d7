#include <doctest/doctest.h>

#include "codecs/base64.h"
#include "common/glob.h"
#include "trust/permit.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::make_key;
using ptp::testing::public_of;

namespace {

PermitPayload sample() {
  PermitPayload p;
  p.id = "0123456789abcdef0123456789abcdef";
  p.holder = "nodeB";
  p.holder_inst = "instB";
  p.grantee = "nodeA";
  p.grantee_inst = "instA";
  p.type = "service";
  p.resource = "svc.*";
  p.level = 3;
  p.not_before = 1'800'000'000;
  p.not_after = 1'800'003'600;
  p.uses = 3;
  return p;
}

std::string error_of(std::string_view text) {
  std::string error;
  CHECK_FALSE(parse_permit(text, error).has_value());
  return error;
}

}  // namespace

TEST_CASE("permit: issued, parsed back and verified with the holder's key, for every algorithm") {
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519, KeyAlgorithm::kSm2}) {
    CAPTURE(key_algorithm_name(alg));
    NodeKey holder = make_key(alg);
    std::string error;
    auto issued = issue_permit(holder, sample(), error);
    REQUIRE_MESSAGE(issued.has_value(), error);
    CHECK(issued->text.starts_with("ptpp1."));
    // The documented layout: payload JSON members in order, signature over the context line.
    CHECK(
        issued->payload_json ==
        R"({"v":1,"id":"0123456789abcdef0123456789abcdef","holder":"nodeB","holder_inst":"instB",)"
        R"("grantee":"nodeA","grantee_inst":"instA","type":"service","resource":"svc.*",)"
        R"("level":3,"not_before":1800000000,"not_after":1800003600,"uses":3})");
    CHECK(public_of(holder).verify("ptp-permit-v1\n" + issued->payload_json, issued->signature));
    auto parsed = parse_permit(issued->text, error);
    REQUIRE_MESSAGE(parsed.has_value(), error);
    CHECK(parsed->payload == sample());
    CHECK(verify_permit(public_of(holder), *parsed));
    // Another node's key does not verify it.
    CHECK_FALSE(verify_permit(public_of(make_key(alg)), *parsed));
  }
}

TEST_CASE("permit: an altered payload no longer verifies") {
  NodeKey holder = make_key(KeyAlgorithm::kEcdsaP256);
  std::string error;
  auto issued = issue_permit(holder, sample(), error);
  REQUIRE(issued);
  std::string json = issued->payload_json;
  json.replace(json.find("\"uses\":3"), 8, "\"uses\":9");
  const std::string sig_part = issued->text.substr(issued->text.rfind('.') + 1);
  const std::string altered = "ptpp1." + base64url_encode(json) + "." + sig_part;
  auto parsed = parse_permit(altered, error);
  REQUIRE_MESSAGE(parsed.has_value(), error);  // well-formed...
  CHECK(parsed->payload.uses == 9);
  CHECK_FALSE(verify_permit(public_of(holder), *parsed));  // ...but not the holder's
}

TEST_CASE("permit: malformed texts are refused with a reason") {
  CHECK(error_of("").find("not a permit") != std::string::npos);
  CHECK(error_of("s1.123.abc").find("not a permit") != std::string::npos);
  CHECK(error_of("ptpp1.abc").find("malformed") != std::string::npos);
  CHECK(error_of("ptpp1.!!.abc").find("base64url") != std::string::npos);
  CHECK(error_of("ptpp1." + base64url_encode("[1]") + ".YWJj").find("member") != std::string::npos);
  CHECK(error_of(std::string(5000, 'a')).find("longer") != std::string::npos);
  PermitPayload p = sample();
  for (auto mutate : std::initializer_list<void (*)(PermitPayload&)>{
           [](PermitPayload& x) { x.id = "short"; },
           [](PermitPayload& x) { x.type = "car"; },
           [](PermitPayload& x) { x.level = 10; },
           [](PermitPayload& x) { x.level = 0; },
           [](PermitPayload& x) { x.not_after = x.not_before - 1; },
           [](PermitPayload& x) { x.uses = -1; },
           [](PermitPayload& x) { x.grantee = ""; },
       }) {
    PermitPayload bad = p;
    mutate(bad);
    CHECK_FALSE(permit_payload_error(bad).empty());
    const std::string text =
        "ptpp1." + base64url_encode(permit_payload_json(bad)) + "." + base64url_encode("sig");
    CHECK(error_of(text).find("malformed permit payload") != std::string::npos);
    std::string error;
    CHECK_FALSE(issue_permit(make_key(KeyAlgorithm::kEd25519), bad, error).has_value());
  }
}

TEST_CASE("permit: resource globs") {
  CHECK(glob_match("svc.*", "svc.alpha"));
  CHECK(glob_match("svc.*", "svc."));
  CHECK_FALSE(glob_match("svc.*", "svd.alpha"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("a*b*c", "axxbyyc"));
  CHECK_FALSE(glob_match("a*b*c", "axxbyy"));
  CHECK(glob_match("job-1", "job-1"));
  CHECK_FALSE(glob_match("job-1", "job-12"));
}
