#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "codecs/base64.h"
#include "trust/invitation.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::run_shell;
using ptp::testing::TrustTempDir;

namespace {

const std::string kFp(64, 'a');

Invitation sample() {
  Invitation inv;
  inv.code = new_invitation_code();
  inv.inviter = "nodeA";
  inv.inviter_inst = "inst-a";
  inv.address = "127.0.0.1:17601";
  inv.root_fp = kFp;
  inv.joiner = "nodeB";
  inv.expire_at = 1'800'003'600;
  return inv;
}

nlohmann::json sample_json() {
  return nlohmann::json::parse(*base64url_decode(encode_invitation(sample()).substr(8)));
}

std::string wrap(const std::string& json) { return "ptpinv1." + base64url_encode(json); }

std::string decode_error(const std::string& text) {
  std::string error;
  CHECK_FALSE(decode_invitation(text, error).has_value());
  return error;
}

}  // namespace

TEST_CASE("invitation: ptpinv1 + base64url JSON with the documented fields, round trip") {
  Invitation inv = sample();
  CHECK(inv.code.size() == 64);
  CHECK(inv.code != new_invitation_code());
  const std::string text = encode_invitation(inv);
  REQUIRE(text.substr(0, 8) == "ptpinv1.");
  CHECK(text.find_first_of("=+/ \n") == std::string::npos);
  auto json = nlohmann::json::parse(*base64url_decode(text.substr(8)));
  CHECK(json == nlohmann::json{{"v", 1},
                               {"code", inv.code},
                               {"inviter", "nodeA"},
                               {"inst", "inst-a"},
                               {"address", "127.0.0.1:17601"},
                               {"root_fp", kFp},
                               {"for", "nodeB"},
                               {"expire_at", 1'800'003'600}});
  std::string error;
  auto back = decode_invitation(text, error);
  REQUIRE_MESSAGE(back.has_value(), error);
  CHECK(*back == inv);
  // Pasted with a newline; unknown fields ignored.
  CHECK(decode_invitation("  " + text + "\n", error).has_value());
  auto extra = sample_json();
  extra["note"] = "x";
  CHECK(decode_invitation(wrap(extra.dump()), error).has_value());
}

TEST_CASE("invitation: damaged, incomplete or oversized texts are refused with a message") {
  CHECK(decode_error("ptpinv2.abc") == "not an invitation (expected ptpinv1.<base64url>)");
  CHECK(decode_error("ptpinv1.a+b") == "invitation damaged: not base64url after ptpinv1.");
  CHECK(decode_error("ptpinv1." + std::string(5000, 'A')) == "invitation longer than 4096 bytes");
  CHECK(decode_error(wrap("[1]")) == "invitation damaged: not a flat JSON object");
  CHECK(decode_error(wrap("{\"v\":{\"x\":1}}")) == "invitation damaged: not a flat JSON object");
  CHECK(decode_error(wrap("{\"v\":1")) == "invitation damaged: not a flat JSON object");
  for (const char* field :
       {"v", "code", "inviter", "inst", "address", "root_fp", "for", "expire_at"}) {
    CAPTURE(field);
    auto j = sample_json();
    j.erase(field);
    CHECK(decode_error(wrap(j.dump())) == "invitation incomplete: field \"" + std::string(field) +
                                              "\" missing or of the wrong type");
    j = sample_json();
    j[field] = std::string(field) == "v" || std::string(field) == "expire_at" ? nlohmann::json("1")
                                                                              : nlohmann::json(1);
    CHECK(decode_error(wrap(j.dump())).find("invitation incomplete: field") == 0);
  }
  auto j = sample_json();
  j["v"] = 2;
  CHECK(decode_error(wrap(j.dump())) == "invitation version 2 is not supported (expected 1)");
  j = sample_json();
  j["expire_at"] = 1.5;
  CHECK(decode_error(wrap(j.dump())).find("field \"expire_at\"") != std::string::npos);
  j = sample_json();
  j["expire_at"] = -1;
  CHECK(decode_error(wrap(j.dump())) == "invitation damaged: expire_at is negative");
  j = sample_json();
  j["code"] = std::string(64, 'A');
  CHECK(decode_error(wrap(j.dump())) == "invitation damaged: code is not 64 lowercase hex digits");
  j = sample_json();
  j["root_fp"] = "sha256:" + kFp;
  CHECK(decode_error(wrap(j.dump())) ==
        "invitation damaged: root_fp is not 64 lowercase hex digits");
  j = sample_json();
  j["for"] = "node B";
  CHECK(decode_error(wrap(j.dump())) ==
        "invitation damaged: inviter, for and inst must be ids of [A-Za-z0-9._:-]");
  j = sample_json();
  j["address"] = "127.0.0.1";
  CHECK(decode_error(wrap(j.dump())).find("invitation damaged: address '127.0.0.1' is not") == 0);
}

TEST_CASE("invitation: proofs and signed texts as documented, cross-checked with openssl") {
  const std::string code(64, '7');
  const std::string fp_b(64, 'b'), fp_a(64, 'a');
  const std::string weave = weave_proof(code, "nodeA", "nodeB", fp_b);
  const std::string ack = ack_proof(code, "nodeA", "nodeB", fp_a);
  CHECK(weave.size() == 64);
  CHECK(weave != ack);
  CHECK(weave != weave_proof(code, "nodeA", "nodeC", fp_b));
  CHECK(weave != weave_proof(code, "nodeA", "nodeB", fp_a));
  CHECK(weave != weave_proof(std::string(64, '8'), "nodeA", "nodeB", fp_b));
  CHECK(proof_matches(weave, weave));
  CHECK_FALSE(proof_matches(weave, ack));
  CHECK_FALSE(proof_matches(weave, weave.substr(1)));
  CHECK_FALSE(proof_matches("", ""));

  TrustTempDir dir;
  dir.write("weave", "ptp-weave-v1\nnodeA\nnodeB\n" + fp_b);
  dir.write("ack", "ptp-ack-v1\nnodeA\nnodeB\n" + fp_a);
  for (auto [file, expected] : {std::pair{"weave", weave}, std::pair{"ack", ack}}) {
    REQUIRE(
        run_shell("openssl dgst -sha256 -mac HMAC -macopt key:" + code + " -r " + dir.file(file),
                  dir.file("out")) == 0);
    CHECK(dir.read("out").substr(0, 64) == expected);
  }

  CHECK(weave_signed_text("nodeA", "nodeB", "127.0.0.1:2", fp_b, weave) ==
        "ptp-weave-v1\nnodeA\nnodeB\n127.0.0.1:2\n" + fp_b + "\n" + weave);
  CHECK(ack_signed_text("nodeA", "nodeB", "127.0.0.1:1", fp_a, ack) ==
        "ptp-ack-v1\nnodeA\nnodeB\n127.0.0.1:1\n" + fp_a + "\n" + ack);
}
