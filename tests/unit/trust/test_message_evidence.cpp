// Message statements and their batch proofs: a batch signed by hand verifies statement by
// statement from the header values alone; any altered field, path, index or signature
// fails; the header values round-trip.
#include <doctest/doctest.h>

#include "codecs/base64.h"
#include "tests/unit/trust/trust_test_support.h"
#include "trust/merkle.h"
#include "trust/message_evidence.h"

namespace ptp {
namespace {

MessageFields sample(int i) {
  MessageFields m;
  m.version = "1";
  m.iface = "invoke";
  m.source_node = "A";
  m.source_inst = "IA";
  m.target_node = "B";
  m.target_inst = "IB";
  m.session = "s-" + std::to_string(i);
  m.trace = "t";
  m.uri = "svc.echo";
  m.body_size = 5;
  m.body_digest = digest_hex(digest(DigestAlgorithm::kSha256, "hello"));
  m.sent_ms = 1760000000000 + i;
  return m;
}

// Signs the leaves as a batch and returns each one's x-ptp-signature value.
std::vector<std::string> sign_batch(const NodeKey& key, Hasher& h,
                                    const std::vector<MessageFields>& ms) {
  std::vector<Digest32> leaves;
  for (const auto& m : ms) leaves.push_back(merkle_leaf_hash(h, message_leaf(h, m)));
  auto levels = merkle_levels(h, leaves);
  const auto n = static_cast<uint32_t>(ms.size());
  const std::string sig =
      base64url_encode(key.sign(batch_text("A", "b1-0", n, levels.back().at(0))));
  std::vector<std::string> out;
  for (uint32_t i = 0; i < n; ++i) {
    std::string v = "v1;" + std::to_string(ms[i].sent_ms) + ";";
    append_batch_proof(v, "A", "b1-0", n, i, merkle_path(levels, i), sig);
    out.push_back(v);
  }
  return out;
}

}  // namespace

TEST_CASE("message evidence: each message of a signed batch verifies alone") {
  for (auto alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519, KeyAlgorithm::kSm2}) {
    NodeKey key = testing::make_key(alg);
    PublicKey pub = testing::public_of(key);
    Hasher h(alg == KeyAlgorithm::kSm2 ? DigestAlgorithm::kSm3 : DigestAlgorithm::kSha256);
    std::vector<MessageFields> ms;
    for (int i = 0; i < 5; ++i) ms.push_back(sample(i));
    auto values = sign_batch(key, h, ms);
    for (size_t i = 0; i < ms.size(); ++i) {
      SignatureValue sv;
      std::string error;
      REQUIRE_MESSAGE(parse_signature_value(values[i], sv, error), error);
      CHECK(sv.sent_ms == ms[i].sent_ms);
      CHECK(sv.proof.node == "A");
      CHECK(verify_statement(h, message_leaf(h, ms[i]), sv.proof, pub, error));
      // Another message's fields, a changed body digest, size, or sent time: refused.
      MessageFields m = ms[i];
      m.body_digest[0] = m.body_digest[0] == '0' ? '1' : '0';
      CHECK_FALSE(verify_statement(h, message_leaf(h, m), sv.proof, pub, error));
      m = ms[i];
      m.body_size += 1;
      CHECK_FALSE(verify_statement(h, message_leaf(h, m), sv.proof, pub, error));
      m = ms[i];
      m.target_node = "C";
      CHECK_FALSE(verify_statement(h, message_leaf(h, m), sv.proof, pub, error));
      CHECK_FALSE(
          verify_statement(h, message_leaf(h, ms[(i + 1) % ms.size()]), sv.proof, pub, error));
      // A moved index, a wrong batch id, a wrong signer key.
      BatchProof p = sv.proof;
      p.index = (p.index + 1) % p.n;
      CHECK_FALSE(verify_statement(h, message_leaf(h, ms[i]), p, pub, error));
      p = sv.proof;
      p.batch_id = "b1-1";
      CHECK_FALSE(verify_statement(h, message_leaf(h, ms[i]), p, pub, error));
      PublicKey other = testing::public_of(testing::make_key(alg));
      CHECK_FALSE(verify_statement(h, message_leaf(h, ms[i]), sv.proof, other, error));
    }
  }
}

TEST_CASE("message evidence: receipt and countersign values parse to their statements") {
  Hasher h;
  const std::string msg = digest_hex(digest(DigestAlgorithm::kSha256, "m"));
  std::string v = "v1;" + msg + ";1760000000123;E0000000000;";
  append_batch_proof(v, "B", "b2-7", 1, 0, {}, base64url_encode("sig"));
  ReceiptValue r;
  std::string error;
  REQUIRE_MESSAGE(parse_receipt_value(v, r, error), error);
  CHECK(r.msg == msg);
  CHECK(r.received_ms == 1760000000123);
  CHECK(r.code == "E0000000000");
  CHECK(r.proof.node == "B");
  CHECK(r.proof.path.empty());
  CHECK(receipt_leaf(h, r) ==
        digest(DigestAlgorithm::kSha256, receipt_text(msg, "B", 1760000000123, "E0000000000")));
  std::string c = "v1;" + digest_hex(receipt_leaf(h, r)) + ";1760000000200;";
  append_batch_proof(c, "R", "b3-1", 2, 1, {digest(DigestAlgorithm::kSha256, "x")},
                     base64url_encode("s"));
  CountersignValue cv;
  REQUIRE_MESSAGE(parse_countersign_value(c, cv, error), error);
  CHECK(cv.proof.node == "R");
  CHECK(cv.proof.path.size() == 1);
  // Malformed values are refused with a reason.
  for (std::string_view bad : {"", "v3;1;A;b;1;0;;c2ln", "v1;x;A;b;1;0;;c2ln", "v1;1;A;b;1;1;;c2ln",
                               "v1;1;A;b;0;0;;c2ln", "v1;1;A;b;1;0;;", "v1;1;A b;b;1;0;;c2ln",
                               "v1;1;A;b;2;0;AAAA;c2ln", "v1;1;A;b;1;0;;c2ln;x"}) {
    SignatureValue sv;
    error.clear();
    CHECK_FALSE(parse_signature_value(bad, sv, error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("message evidence: fields round-trip through record pairs") {
  MessageFields m = sample(3), back;
  std::string error;
  REQUIRE(MessageFields::from_fields(m.to_fields(), back, error));
  CHECK(message_text(back) == message_text(m));
  auto fields = m.to_fields();
  fields.erase(fields.begin() + 2);
  CHECK_FALSE(MessageFields::from_fields(fields, back, error));
  CHECK(error.find("source") != std::string::npos);
}

TEST_CASE("message evidence: a gRPC stream's framed statement is ptp-msg-v2, versioned") {
  MessageFields m = sample(4);
  const std::string v1 = message_text(m);
  CHECK(v1.starts_with("ptp-msg-v1\n1\ninvoke\n"));
  m.framing = std::string(kGrpcFraming);
  const std::string v2 = message_text(m);
  CHECK(v2 == "ptp-msg-v2\ngrpc\n" + v1.substr(std::string("ptp-msg-v1\n").size()));
  // The framing travels with the record's fields (and only when set).
  MessageFields back;
  std::string error;
  REQUIRE(MessageFields::from_fields(m.to_fields(), back, error));
  CHECK(message_text(back) == v2);
  CHECK(sample(4).to_fields().size() == 13);
  auto fields = m.to_fields();
  fields.back().second = "http2";
  CHECK_FALSE(MessageFields::from_fields(fields, back, error));
  CHECK(error.find("framing") != std::string::npos);
  // The prefix gRPC puts before a message.
  CHECK(grpc_framed_prefix(0x01020304) == std::string("\0\x01\x02\x03\x04", 5));
  // A "v2;" signature value parses, and says so.
  std::string value = "v2;7;";
  append_batch_proof(value, "A", "b1", 1, 0, {}, base64url_encode("s"));
  SignatureValue sv;
  REQUIRE_MESSAGE(parse_signature_value(value, sv, error), error);
  CHECK(sv.version == 2);
  CHECK(sv.sent_ms == 7);
  REQUIRE(parse_signature_value("v1" + value.substr(2), sv, error));
  CHECK(sv.version == 1);
}

}  // namespace ptp
