// MessageSigning's check of other nodes' statements (the receiver's side): a batch is
// verified once, further statements of it by their inclusion path; a statement of a verified
// batch carrying other signature bytes is checked again (and refused when they do not
// verify), so that no record keeps a proof a third party could not verify.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "codecs/base64.h"
#include "gateway/evidence/message_signing.h"
#include "tests/unit/trust/trust_test_support.h"

namespace ptp {
namespace {

MessageFields message(int i) {
  MessageFields m;
  m.version = "1";
  m.iface = "invoke";
  m.source_node = "A";
  m.source_inst = "INST_A";
  m.target_node = "B";
  m.target_inst = "INST_B";
  m.session = "s";
  m.trace = "trace-" + std::to_string(i);
  m.uri = "ptp/echo";
  m.body_size = 3;
  m.body_digest = std::string(64, 'a');
  return m;
}

struct Signed {
  std::vector<MessageFields> messages;
  std::vector<std::string> values;  // x-ptp-signature of each
};

// `n` messages of A signed in one batch.
Signed sign_batch(MessageSigning& signing, const Config& cfg, int n) {
  Signed out;
  for (int i = 0; i < n; ++i) {
    out.messages.push_back(message(i));
    out.messages.back().sent_ms = 1000 + i;
    const Digest32 leaf = message_leaf(signing.hasher(cfg), out.messages.back());
    signing.sign_message(cfg, leaf, 1000 + i,
                         [&out](std::string v) { out.values.push_back(std::move(v)); });
  }
  signing.signer().flush();
  REQUIRE(out.values.size() == static_cast<size_t>(n));
  return out;
}

// The value with the batch signature replaced by `sig` (raw bytes).
std::string with_signature(const std::string& value, const std::string& sig) {
  return value.substr(0, value.rfind(';') + 1) + base64url_encode(sig);
}

}  // namespace

TEST_CASE("message signing: verified batches by path; other signature bytes checked again") {
  boost::asio::io_context io;
  Config a;
  a.node_id = "A";
  a.evidence.enabled = true;
  a.evidence.batch_max = 64;
  a.identity.node_key =
      std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEcdsaP256));
  const PublicKey pub = testing::public_of(*a.identity.node_key);
  Config b;
  b.node_id = "B";

  MessageSigning sender(io.get_executor());
  MessageSigning receiver(io.get_executor());
  const Signed batch = sign_batch(sender, a, 9);

  // The first message costs the signature check, the others of the batch none.
  for (size_t i = 0; i < batch.values.size(); ++i) {
    MessageFields m = batch.messages[i];
    Digest32 leaf{};
    Status st = receiver.verify_message(b, m, batch.values[i], &pub, leaf);
    CHECK_MESSAGE(st.ok(), st.message);
  }
  CHECK(receiver.signature_checks() == 1);

  // An altered message of the verified batch: refused.
  MessageFields altered = batch.messages[3];
  altered.uri = "ptp/other";
  Digest32 leaf{};
  CHECK(receiver.verify_message(b, altered, batch.values[3], &pub, leaf).code ==
        Code::kBadCertSignature);

  // The same statement and path with other signature bytes: checked again, refused.
  std::string error;
  SignatureValue sv;
  REQUIRE(parse_signature_value(batch.values[4], sv, error));
  std::string bad_sig = sv.proof.signature;
  bad_sig[bad_sig.size() / 2] ^= 0x01;
  MessageFields m4 = batch.messages[4];
  const uint64_t checks = receiver.signature_checks();
  Status st = receiver.verify_message(b, m4, with_signature(batch.values[4], bad_sig), &pub, leaf);
  CHECK(st.code == Code::kBadCertSignature);
  CHECK(receiver.signature_checks() == checks + 1);

  // Another valid signature of the same batch root (ECDSA signs anew each time): accepted,
  // after its own check.
  SignatureValue sv0;
  REQUIRE(parse_signature_value(batch.values[0], sv0, error));
  Hasher h;
  auto root = proof_root(h, message_leaf(h, batch.messages[0]), sv0.proof, error);
  REQUIRE(root.has_value());
  const std::string resigned =
      a.identity.node_key->sign(batch_text("A", sv0.proof.batch_id, sv0.proof.n, *root));
  REQUIRE(!resigned.empty());
  MessageFields m5 = batch.messages[5];
  st = receiver.verify_message(b, m5, with_signature(batch.values[5], resigned), &pub, leaf);
  CHECK_MESSAGE(st.ok(), st.message);
  CHECK(receiver.signature_checks() == checks + 2);
}

TEST_CASE("message signing: a receipt or countersign over the bound is refused unparsed") {
  // Answer headers have no 1 KiB field limit: a receiver pads its receipt's signature with
  // 64 KiB (it parses, base64url). Refused by its length, before any signature check.
  boost::asio::io_context io;
  Config b;
  b.node_id = "B";
  b.evidence.enabled = true;
  b.identity.node_key =
      std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEcdsaP256));
  const PublicKey pub = testing::public_of(*b.identity.node_key);
  Config a;
  a.node_id = "A";
  MessageSigning receiver(io.get_executor());
  MessageSigning sender(io.get_executor());
  Digest32 msg{};
  msg[0] = 7;
  std::string receipt;
  receiver.sign_receipt(b, msg, 2000, Code::kOk, [&](std::string v) { receipt = std::move(v); });
  receiver.signer().flush();
  REQUIRE(!receipt.empty());
  CHECK(receipt.size() < 1024);
  Status st = sender.verify_receipt(a, msg, "B", receipt, &pub);
  CHECK_MESSAGE(st.ok(), st.message);

  const std::string padded = receipt + std::string(65536, 'A');
  const uint64_t checks = sender.signature_checks();
  st = sender.verify_receipt(a, msg, "B", padded, &pub);
  CHECK(st.code == Code::kBadCertSignature);
  CHECK_MESSAGE(st.message.find("bytes (at most 2048)") != std::string::npos, st.message);
  CHECK(sender.signature_checks() == checks);
  st = sender.verify_countersign(a, receipt, std::string(4096, 'c'), &pub);
  CHECK_MESSAGE(st.message.find("x-ptp-countersign of 4096 bytes") != std::string::npos,
                st.message);
  // A router does not countersign such a receipt (it passes on uncountersigned).
  bool called = false;
  CHECK_FALSE(receiver.countersign(b, padded, 3000, [&](std::string) { called = true; }));
  CHECK_FALSE(called);
}

}  // namespace ptp

namespace ptp {

TEST_CASE("message signing: batch_statements chooses references with a statement or full proofs") {
  boost::asio::io_context io;
  Config a;
  a.node_id = "A";
  a.evidence.enabled = true;
  a.identity.node_key =
      std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEcdsaP256));
  const PublicKey pub = testing::public_of(*a.identity.node_key);
  Config b;
  b.node_id = "B";
  for (const bool statements : {true, false}) {
    a.evidence.batch_statements = statements;
    MessageSigning sender(io.get_executor());
    MessageSigning receiver(io.get_executor());
    std::vector<MessageFields> ms;
    std::vector<std::pair<std::string, BatchSigner::Statement>> got;
    for (int i = 0; i < 3; ++i) {
      ms.push_back(message(i));
      ms.back().sent_ms = 2000 + i;
      sender.sign_message_referenced(
          a, message_leaf(sender.hasher(a), ms.back()), 2000 + i,
          [&got](std::string v, BatchSigner::Statement s) { got.emplace_back(std::move(v), s); });
    }
    sender.signer().flush();
    REQUIRE(got.size() == 3);
    for (size_t i = 0; i < got.size(); ++i) {
      const auto& [value, statement] = got[i];
      CHECK(value.starts_with(statements ? "v3;" : "v1;"));
      CHECK(static_cast<bool>(statement) == statements);
      if (statements) CHECK(statement == got[0].second);  // one statement for the batch
      MessageFields m = ms[i];
      m.sent_ms = 0;
      Digest32 leaf{};
      const std::string_view st = statement ? std::string_view(*statement) : std::string_view();
      CHECK_MESSAGE(receiver.verify_message(b, m, value, &pub, leaf, st).ok(), value);
      if (statements) {  // a reference without its statement is refused
        MessageFields again = ms[i];
        CHECK(receiver.verify_message(b, again, value, &pub, leaf).code == Code::kBadCertSignature);
      }
    }
  }
}

}  // namespace ptp
