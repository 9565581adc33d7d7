// Batch statements and v3 references: a statement signed by hand verifies with its node's key
// and holds each of its digests; an altered digest, count, id or signature fails; a v3 value
// made whole (expand_reference_value) is the same v1 value a full proof gives, and verifies.
#include <doctest/doctest.h>

#include "codecs/base64.h"
#include "tests/unit/trust/trust_test_support.h"
#include "trust/batch_statement.h"
#include "trust/merkle.h"
#include "trust/message_evidence.h"

namespace ptp {
namespace {

std::vector<Digest32> digests(Hasher& h, int n) {
  std::vector<Digest32> out;
  for (int i = 0; i < n; ++i) {
    h.update("statement " + std::to_string(i));
    out.push_back(h.finish());
  }
  return out;
}

// The statement value of `leaves` signed by `key` as batch "b-1" of node A.
std::string signed_statement(const NodeKey& key, Hasher& h, const std::vector<Digest32>& leaves) {
  std::vector<Digest32> hashes;
  for (const auto& l : leaves) hashes.push_back(merkle_leaf_hash(h, l));
  const Digest32 root = merkle_levels(h, hashes).back().at(0);
  const auto n = static_cast<uint32_t>(leaves.size());
  return statement_value("A", "b-1", leaves,
                         base64url_encode(key.sign(batch_text("A", "b-1", n, root))));
}

}  // namespace

TEST_CASE("batch statement: verifies, holds each digest, and fails when altered") {
  for (auto alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519, KeyAlgorithm::kSm2}) {
    NodeKey key = testing::make_key(alg);
    PublicKey pub = testing::public_of(key);
    Hasher h(alg == KeyAlgorithm::kSm2 ? DigestAlgorithm::kSm3 : DigestAlgorithm::kSha256);
    const auto leaves = digests(h, 7);
    const std::string value = signed_statement(key, h, leaves);
    BatchStatement s;
    std::string error;
    REQUIRE_MESSAGE(parse_statement_value(value, s, error), error);
    CHECK(s.node == "A");
    CHECK(s.batch_id == "b-1");
    CHECK(s.leaves == leaves);
    CHECK_MESSAGE(verify_batch_statement(h, s, pub, error), error);
    std::string_view node, batch;
    REQUIRE(statement_id(value, node, batch));
    CHECK(node == "A");
    CHECK(batch == "b-1");
    for (uint32_t i = 0; i < leaves.size(); ++i) {
      BatchProof ref;
      std::string text;
      append_batch_reference(text, "A", "b-1", 7, i);
      REQUIRE_MESSAGE(parse_batch_reference(text, ref, error), error);
      CHECK(ref.reference);
      CHECK_MESSAGE(statement_holds(s, ref, leaves[i], error), error);
      CHECK_FALSE(statement_holds(s, ref, leaves[(i + 1) % leaves.size()], error));
    }
    // One digest altered: parses, does not verify.
    BatchStatement altered = s;
    altered.leaves[3][0] ^= 1;
    CHECK_FALSE(verify_batch_statement(h, altered, pub, error));
    // Another batch id under the same signature.
    altered = s;
    altered.batch_id = "b-2";
    CHECK_FALSE(verify_batch_statement(h, altered, pub, error));
    // A digest left out: the count no longer matches the digests.
    std::string shorter = value;
    shorter.replace(shorter.find(";7;"), 3, ";8;");
    CHECK_FALSE(parse_statement_value(shorter, s, error));
    CHECK(error.find("count") != std::string::npos);
    // Another node's key.
    NodeKey other = testing::make_key(alg);
    REQUIRE(parse_statement_value(value, s, error));
    CHECK_FALSE(verify_batch_statement(h, s, testing::public_of(other), error));
  }
}

TEST_CASE("batch statement: bounds and malformed values") {
  std::string error;
  BatchStatement s;
  CHECK_FALSE(parse_statement_value("", s, error));
  CHECK_FALSE(parse_statement_value("A;b-1;0;;AA", s, error));
  CHECK_FALSE(parse_statement_value("A b;b-1;1;" + base64url_encode(std::string(32, 'x')) + ";AA",
                                    s, error));
  // More digests than a statement may hold.
  const uint32_t n = kMaxStatementLeaves + 1;
  CHECK_FALSE(parse_statement_value(
      "A;b-1;" + std::to_string(n) + ";" + base64url_encode(std::string(32 * n, 'x')) + ";AA", s,
      error));
  CHECK_FALSE(parse_statement_value(std::string(kMaxStatementValueBytes + 1, 'A'), s, error));
  BatchProof ref;
  CHECK_FALSE(parse_batch_reference("A;b-1;3;3", ref, error));  // index beyond n
  CHECK_FALSE(parse_batch_reference("A;b-1;3", ref, error));
  CHECK_FALSE(parse_batch_reference("A;b-1;3;1;path", ref, error));
}

TEST_CASE("batch statement: a v3 value made whole verifies as the v1 value of a full proof") {
  NodeKey key = testing::make_key(KeyAlgorithm::kEcdsaP256);
  PublicKey pub = testing::public_of(key);
  Hasher h(DigestAlgorithm::kSha256);
  const auto leaves = digests(h, 5);
  const std::string value = signed_statement(key, h, leaves);
  BatchStatement s;
  std::string error;
  REQUIRE(parse_statement_value(value, s, error));
  // A signature (v3;sent_ms;reference) and a receipt (v3;msg;received_ms;code;reference).
  const std::string sig = "v3;1760000000000;A;b-1;5;2";
  std::string whole;
  REQUIRE_MESSAGE(expand_reference_value(h, sig, s, whole, error), error);
  SignatureValue sv;
  REQUIRE_MESSAGE(parse_signature_value(whole, sv, error), error);
  CHECK(sv.version == 1);
  CHECK(sv.sent_ms == 1760000000000);
  CHECK_MESSAGE(verify_statement(h, leaves[2], sv.proof, pub, error), error);
  CHECK_FALSE(verify_statement(h, leaves[1], sv.proof, pub, error));
  CHECK(whole.starts_with("v1;1760000000000;A;b-1;5;2;"));

  const std::string receipt = "v3;" + std::string(64, 'a') + ";17;E0000000000;A;b-1;5;4";
  REQUIRE_MESSAGE(expand_reference_value(h, receipt, s, whole, error), error);
  ReceiptValue rv;
  REQUIRE_MESSAGE(parse_receipt_value(whole, rv, error), error);
  CHECK(rv.version == 1);
  CHECK(rv.msg == std::string(64, 'a'));
  CHECK(rv.received_ms == 17);
  CHECK_MESSAGE(verify_statement(h, leaves[4], rv.proof, pub, error), error);
  // A v3 value parses as a reference.
  REQUIRE(parse_receipt_value(receipt, rv, error));
  CHECK(rv.version == 3);
  CHECK(rv.proof.reference);
  CHECK(rv.proof.index == 4);
  // Another batch, or no v3 value: refused.
  CHECK_FALSE(expand_reference_value(h, "v3;1;A;b-2;5;2", s, whole, error));
  CHECK_FALSE(expand_reference_value(h, "v3;1;A;b-1;6;2", s, whole, error));
  CHECK_FALSE(expand_reference_value(h, "v1;1;A;b-1;5;2;;AA", s, whole, error));
}

}  // namespace ptp
