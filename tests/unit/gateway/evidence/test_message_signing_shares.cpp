// The cache of verified batches is shared fairly between the signing nodes: peer X signing
// a new batch per message (each costs it one signature of its own) fills the cache with its
// entries, and must then evict its own, not peer Y's verified batch (before, one FIFO of
// 4096: X's 4096 new batches flushed Y's, which then paid a signature check again).
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

MessageFields message(const std::string& source, int i) {
  MessageFields m;
  m.version = "1";
  m.iface = "invoke";
  m.source_node = source;
  m.source_inst = "INST_" + source;
  m.target_node = "B";
  m.target_inst = "INST_B";
  m.session = "s";
  m.trace = "t-" + std::to_string(i);
  m.uri = "ptp/echo";
  m.body_size = 3;
  m.body_digest = std::string(64, 'a');
  m.sent_ms = 1000 + i;
  return m;
}

// x-ptp-signature of `leaf` alone in a batch `batch` of 2 leaves (a made-up sibling) that
// `key` signs as `node`.
std::string own_batch(const NodeKey& key, const std::string& node, const std::string& batch,
                      const Digest32& leaf, int64_t sent_ms) {
  Hasher h;
  std::vector<Digest32> path(1);
  path[0].fill(0x5a);
  auto root = merkle_root_from_path(h, merkle_leaf_hash(h, leaf), 0, 2, path);
  REQUIRE(root.has_value());
  std::string v = "v1;" + std::to_string(sent_ms) + ";";
  append_batch_proof(v, node, batch, 2, 0, path,
                     base64url_encode(key.sign(batch_text(node, batch, 2, *root))));
  return v;
}

}  // namespace

TEST_CASE("message signing: a peer's new batch per message does not evict another peer's") {
  boost::asio::io_context io;
  Config y;
  y.node_id = "Y";
  y.evidence.enabled = true;
  y.evidence.batch_max = 64;
  y.identity.node_key =
      std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEcdsaP256));
  const PublicKey y_pub = testing::public_of(*y.identity.node_key);
  const NodeKey x_key = testing::make_key(KeyAlgorithm::kEcdsaP256);
  const PublicKey x_pub = testing::public_of(x_key);
  Config b;
  b.node_id = "B";
  MessageSigning sender(io.get_executor());
  MessageSigning receiver(io.get_executor());

  // Y's two messages in one batch: the first costs the check.
  std::vector<MessageFields> ym = {message("Y", 0), message("Y", 1)};
  std::vector<std::string> yv;
  for (auto& m : ym)
    sender.sign_message(y, message_leaf(sender.hasher(y), m), m.sent_ms,
                        [&yv](std::string v) { yv.push_back(std::move(v)); });
  sender.signer().flush();
  REQUIRE(yv.size() == 2);
  Digest32 leaf{};
  Status st = receiver.verify_message(b, ym[0], yv[0], &y_pub, leaf);
  REQUIRE_MESSAGE(st.ok(), st.message);
  REQUIRE(receiver.signature_checks() == 1);

  // X: a new batch per message, more than the cache holds.
  const int flood = static_cast<int>(MessageSigning::kVerifiedBatches) + 200;
  for (int i = 0; i < flood; ++i) {
    MessageFields m = message("X", i);
    const Digest32 xl = message_leaf(receiver.hasher(b), m);
    st = receiver.verify_message(
        b, m, own_batch(x_key, "X", "x-" + std::to_string(i), xl, m.sent_ms), &x_pub, leaf);
    REQUIRE_MESSAGE(st.ok(), st.message);
  }
  REQUIRE(receiver.signature_checks() == 1 + static_cast<uint64_t>(flood));

  // Y's next message of its verified batch: no signature check.
  st = receiver.verify_message(b, ym[1], yv[1], &y_pub, leaf);
  CHECK_MESSAGE(st.ok(), st.message);
  CHECK(receiver.signature_checks() == 1 + static_cast<uint64_t>(flood));
}

}  // namespace ptp
