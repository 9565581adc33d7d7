// check_message_proof: a proof of a message, its receipt and a countersign, each signed in
// a batch of its own signer, checks against the three roots; each part altered, or a root
// missing or of another node, fails naming the part.
#include <doctest/doctest.h>

#include "codecs/base64.h"
#include "tests/unit/trust/trust_test_support.h"
#include "trust/merkle.h"
#include "trust/message_proof.h"

namespace ptp {
namespace {

// `leaf` signed by `node` in a batch with one other leaf (index 1): its proof.
std::string prove(const NodeKey& key, const std::string& node, const Digest32& leaf) {
  Hasher h;
  std::vector<Digest32> leaves{merkle_leaf_hash(h, digest(DigestAlgorithm::kSha256, "other")),
                               merkle_leaf_hash(h, leaf)};
  auto levels = merkle_levels(h, leaves);
  std::string out;
  append_batch_proof(out, node, "b-1", 2, 1, merkle_path(levels, 1),
                     base64url_encode(key.sign(batch_text(node, "b-1", 2, levels.back()[0]))));
  return out;
}

struct Party {
  NodeKey key;
  Certificate root;
};

Party party(const std::string& node) {
  NodeKey key = testing::make_key(KeyAlgorithm::kEcdsaP256);
  std::string error;
  auto root = make_root_certificate(key, node, "I" + node, 30, error);
  REQUIRE_MESSAGE(root.has_value(), error);
  return {std::move(key), std::move(*root)};
}

}  // namespace

TEST_CASE("message proof: signature, receipt and countersign check offline") {
  Party a = party("A"), b = party("B"), r = party("R");
  MessageFields m;
  m.version = "1";
  m.iface = "invoke";
  m.source_node = "A";
  m.target_node = "B";
  m.session = "s";
  m.trace = "t";
  m.uri = "svc";
  m.body_size = 3;
  m.body_digest = digest_hex(digest(DigestAlgorithm::kSha256, "abc"));
  m.sent_ms = 1000;
  Hasher h;
  const Digest32 leaf = message_leaf(h, m);
  MessageProof p;
  p.message = m.to_fields();
  p.msg = digest_hex(leaf);
  p.signature = "v1;1000;" + prove(a.key, "A", leaf);
  ReceiptValue rv;
  rv.msg = p.msg;
  rv.received_ms = 1005;
  rv.code = "E0000000000";
  rv.proof.node = "B";
  const Digest32 rleaf = receipt_leaf(h, rv);
  p.receipt = "v1;" + p.msg + ";1005;E0000000000;" + prove(b.key, "B", rleaf);
  CountersignValue cv;
  cv.receipt = digest_hex(rleaf);
  cv.time_ms = 1007;
  cv.proof.node = "R";
  p.countersign = "v1;" + cv.receipt + ";1007;" + prove(r.key, "R", countersign_leaf(h, cv));

  const std::vector<Certificate> roots{a.root, b.root, r.root};
  ProofCheck ok = check_message_proof(p, roots);
  REQUIRE_MESSAGE(ok.ok(), (ok.failed + ": " + ok.error));
  CHECK(ok.source == "A");
  CHECK(ok.target == "B");
  CHECK(ok.router == "R");
  CHECK(ok.received_ms == 1005);
  CHECK(ok.countersigned_ms == 1007);
  CHECK(ok.status == "E0000000000");

  auto fails = [&](MessageProof q, const std::string& part,
                   const std::vector<Certificate>& rs = {}) {
    ProofCheck c = check_message_proof(q, rs.empty() ? roots : rs);
    CHECK_MESSAGE(c.failed == part, (c.failed + ": " + c.error));
  };
  MessageProof q = p;
  q.message[7].second = "t2";  // trace
  fails(q, "message");
  q = p;
  q.msg[0] = q.msg[0] == 'a' ? 'b' : 'a';
  fails(q, "message");
  q = p;
  q.signature.replace(3, 4, "1001");  // sent time
  fails(q, "signature");
  q = p;
  q.receipt.replace(q.receipt.find(";1005;"), 6, ";1006;");
  fails(q, "receipt");
  q = p;
  q.receipt.replace(q.receipt.find("E0000000000"), 11, "E0000000500");
  fails(q, "receipt");
  q = p;
  q.countersign.replace(q.countersign.find(";1007;"), 6, ";1008;");
  fails(q, "countersign");
  fails(p, "roots", {a.root, b.root});
  Party other_b = party("B");
  fails(p, "receipt", {a.root, other_b.root, r.root});
}

TEST_CASE("message proof: a gRPC stream's framed statement checks with its framing, v2") {
  Party a = party("A");
  MessageFields m;
  m.version = "1";
  m.iface = "transport";
  m.source_node = "A";
  m.target_node = "B";
  m.body_size = 8;
  m.body_digest = digest_hex(digest(DigestAlgorithm::kSha256, std::string("\0\0\0\0\x03"
                                                                          "abc",
                                                                          8)));
  m.sent_ms = 1000;
  m.framing = std::string(kGrpcFraming);
  Hasher h;
  const Digest32 leaf = message_leaf(h, m);
  MessageProof p;
  p.message = m.to_fields();
  p.msg = digest_hex(leaf);
  p.signature = "v2;1000;" + prove(a.key, "A", leaf);
  ProofCheck ok = check_message_proof(p, {a.root});
  REQUIRE_MESSAGE(ok.ok(), (ok.failed + ": " + ok.error));
  // Without its framing the fields give another leaf; a v1 value does not fit a framing.
  MessageProof q = p;
  q.message.pop_back();
  CHECK(check_message_proof(q, {a.root}).failed == "message");
  q = p;
  q.signature[1] = '1';
  CHECK(check_message_proof(q, {a.root}).failed == "signature");
}

}  // namespace ptp
