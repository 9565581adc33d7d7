// MessageSigning's check of other nodes' statements (the receiver's side): a batch is
// verified once, further statements of it by their inclusion path; a statement of a verified
// batch carrying other signature bytes is checked again (and refused when they do not
// verify), so that no record keeps a proof a third party could not verify.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "../../scratch_dir.h"
#include "codecs/base64.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/evidence/message_signing.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
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

// Node A with a fresh P-256 node key and an evidence section; batches of at most `batch_max`.
Config signer_a(int batch_max = 256) {
  Config a;
  a.node_id = "A";
  a.evidence.enabled = true;
  a.evidence.batch_max = batch_max;
  a.identity.node_key =
      std::make_shared<const NodeKey>(testing::make_key(KeyAlgorithm::kEcdsaP256));
  return a;
}

}  // namespace

TEST_CASE("message signing: verified batches by path; other signature bytes checked again") {
  boost::asio::io_context io;
  Config a = signer_a(64);
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
  Config a = signer_a();
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

// A receiver records another node's statement once the statement proved a message here per
// kStatementDigestsPerUse of its digests; the records before carry full proofs made from it,
// so a peer signing a fresh 256-digest statement per message adds a full proof's path per
// record to the receiver's log, not the whole statement (~11 KB).
TEST_CASE("message signing: another node's statement is recorded once it proves enough") {
  boost::asio::io_context io;
  Config a = signer_a(256);
  const PublicKey pub = testing::public_of(*a.identity.node_key);
  Config b;
  b.node_id = "B";
  testing::ScratchDir dir{"ptp-statement-uses"};
  JsonLog jlog{[](std::string_view) {}, LogLevel::kError};
  Metrics metrics;
  EvidenceConfig ecfg;
  ecfg.enabled = true;
  ecfg.dir = (dir.path / "ev").string();
  std::string error;
  auto log = EvidenceLog::open(ecfg, DigestAlgorithm::kSha256, nullptr, jlog, metrics, error);
  REQUIRE(log);
  MessageSigning sender(io.get_executor());
  MessageSigning receiver(io.get_executor());
  receiver.record_statements_in(log.get());
  auto statements_recorded = [&] {
    REQUIRE(log->flush());
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(ecfg.dir)) {
      const std::string text = testing::read_all(e.path());
      for (size_t at = 0; (at = text.find("\"kind\":\"statement\"", at)) != std::string::npos; ++at)
        ++n;
    }
    return n;
  };
  // One batch of `n` messages of A: their fields, values and the statement.
  auto batch = [&](int n, int first) {
    std::vector<MessageFields> ms;
    std::vector<std::string> values;
    BatchSigner::Statement statement;
    for (int i = 0; i < n; ++i) {
      ms.push_back(message(first + i));
      ms.back().sent_ms = 5000 + first + i;
      sender.sign_message_referenced(a, message_leaf(sender.hasher(a), ms.back()), 5000 + first + i,
                                     [&](std::string v, BatchSigner::Statement st) {
                                       values.push_back(std::move(v));
                                       statement = st;
                                     });
    }
    sender.signer().flush();
    REQUIRE(values.size() == static_cast<size_t>(n));
    REQUIRE(statement);
    return std::make_tuple(ms, values, *statement);
  };
  MessageSigning third_party(io.get_executor());  // checks the recorded values on their own

  // An honest batch of 32, all to this receiver: the first three records hold full proofs,
  // the fourth message (4 x 8 >= 32) records the statement, references from then on.
  const auto [ms, values, statement] = batch(32, 0);
  for (size_t i = 0; i < ms.size(); ++i) {
    CAPTURE(i);
    MessageFields m = ms[i];
    m.sent_ms = 0;
    Digest32 leaf{};
    std::string record;
    REQUIRE(receiver.verify_message(b, m, values[i], &pub, leaf, statement, &record).ok());
    if (i < 3) {
      REQUIRE(record.starts_with("v1;"));
      BatchStatement parsed;
      std::string expanded;
      REQUIRE(parse_statement_value(statement, parsed, error));
      REQUIRE(expand_reference_value(receiver.hasher(b), values[i], parsed, expanded, error));
      CHECK(record == expanded);  // what ptpctl evidence export would make of it
      MessageFields again = ms[i];
      again.sent_ms = 0;
      CHECK(third_party.verify_message(b, again, record, &pub, leaf).ok());
      CHECK(statements_recorded() == 0);
    } else {
      CHECK(record.empty());  // the reference as it came
    }
  }
  CHECK(statements_recorded() == 1);

  // A fresh 256-digest statement per message (only one of its digests used here): never
  // recorded, each record holds a full proof of eight path digests.
  for (int k = 0; k < 3; ++k) {
    const auto [bms, bvalues, bstatement] = batch(256, 100 + 256 * k);
    MessageFields m = bms[0];
    m.sent_ms = 0;
    Digest32 leaf{};
    std::string record;
    REQUIRE(receiver.verify_message(b, m, bvalues[0], &pub, leaf, bstatement, &record).ok());
    CHECK(record.starts_with("v1;"));
    CHECK(record.size() < 600);  // against ~11 000 for the statement
    CHECK(bstatement.size() > 10000);
  }
  CHECK(statements_recorded() == 1);
}

}  // namespace ptp
