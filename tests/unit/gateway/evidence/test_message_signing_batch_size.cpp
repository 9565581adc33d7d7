// A peer's claimed batch size (the `n` of a proof) is its own choice, signed with its own
// node key: a malicious peer signs a batch of 2^32 - 1 leaves over a path of 32 digests of
// its choosing. The receiver (of a message signature, or the sender checking a receipt)
// must refuse it as a statement no gateway makes (batches are at most kMaxBatchLeaves),
// not size per-batch state by it (before, the verified-batch cache allocated a tree of 2n
// digests: 256 GiB, std::bad_alloc out of an I/O thread, the gateway aborted).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "codecs/base64.h"
#include "gateway/evidence/message_signing.h"
#include "tests/unit/trust/trust_test_support.h"
#include "trust/merkle.h"

namespace ptp {
namespace {

MessageFields message() {
  MessageFields m;
  m.version = "1";
  m.iface = "invoke";
  m.source_node = "A";
  m.source_inst = "INST_A";
  m.target_node = "B";
  m.target_inst = "INST_B";
  m.session = "s";
  m.trace = "t";
  m.uri = "ptp/echo";
  m.body_size = 3;
  m.body_digest = std::string(64, 'a');
  m.sent_ms = 1000;
  return m;
}

// The proof of `leaf` at index 0 of a batch of `n` leaves that `key` signs as node `node`:
// the path is made up, the root is where it leads (what a malicious signer can always do).
std::string forged_proof(const NodeKey& key, std::string_view node, const Digest32& leaf,
                         uint32_t n) {
  Hasher h;
  std::vector<Digest32> path;
  for (uint64_t sn = n - 1; sn != 0; sn >>= 1) {
    Digest32 d{};
    d.fill(static_cast<uint8_t>(path.size() + 1));
    path.push_back(d);
  }
  auto root = merkle_root_from_path(h, merkle_leaf_hash(h, leaf), 0, n, path);
  REQUIRE(root.has_value());
  const std::string sig = key.sign(batch_text(node, "x-1", n, *root));
  REQUIRE(!sig.empty());
  std::string proof;
  append_batch_proof(proof, node, "x-1", n, 0, path, base64url_encode(sig));
  return proof;
}

}  // namespace

TEST_CASE("message signing: a validly signed batch of 2^32-1 leaves is refused, not cached") {
  boost::asio::io_context io;
  const NodeKey key = testing::make_key(KeyAlgorithm::kEcdsaP256);
  const PublicKey pub = testing::public_of(key);
  Config b;
  b.node_id = "B";
  MessageSigning receiver(io.get_executor());

  // Within the bound: accepted (the made-up path is a valid proof of a signed batch).
  MessageFields ok = message();
  Digest32 leaf = message_leaf(receiver.hasher(b), ok);
  Digest32 out{};
  Status st = receiver.verify_message(
      b, ok, "v1;1000;" + forged_proof(key, "A", leaf, kMaxBatchLeaves), &pub, out);
  CHECK_MESSAGE(st.ok(), st.message);

  // Beyond it: E0000000615, and no signature check spent on it.
  MessageFields big = message();
  const uint64_t checks = receiver.signature_checks();
  st = receiver.verify_message(b, big, "v1;1000;" + forged_proof(key, "A", leaf, 0xFFFFFFFFu), &pub,
                               out);
  CHECK(st.code == Code::kBadCertSignature);
  CHECK(st.message.find("bad leaf count") != std::string::npos);
  CHECK(receiver.signature_checks() == checks);
  MessageFields next = message();
  st = receiver.verify_message(
      b, next, "v1;1000;" + forged_proof(key, "A", leaf, kMaxBatchLeaves + 1), &pub, out);
  CHECK(st.code == Code::kBadCertSignature);

  // The same from a receiver B answering A with such a receipt.
  Hasher h;
  const Digest32 msg = leaf;
  const std::string msg_hex = digest_hex(msg);
  h.update(receipt_text(msg_hex, "B", 2000, "E0000000000"));
  const Digest32 receipt_leaf_value = h.finish();
  const std::string receipt = "v1;" + msg_hex + ";2000;E0000000000;" +
                              forged_proof(key, "B", receipt_leaf_value, 0xFFFFFFFFu);
  Config a;
  a.node_id = "A";
  st = receiver.verify_receipt(a, msg, "B", receipt, &pub);
  CHECK(st.code == Code::kBadCertSignature);
}

}  // namespace ptp
