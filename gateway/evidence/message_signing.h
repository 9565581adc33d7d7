// Signatures, receipts and countersigns of one thread (docs/evidence.md, "Signatures and
// receipts"): builds the statements of trust/message_evidence.h from requests and answers,
// has them signed by the thread's BatchSigner and checks those of other nodes, with a cache
// of verified batches so that a batch costs one signature check per thread.
//
// Not thread-safe: one per I/O thread (Pipeline) and one for the outbox thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/header_list.h"
#include "codecs/interface.h"
#include "codecs/status.h"
#include "gateway/config/config.h"
#include "gateway/evidence/batch_signer.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/evidence/per_node_cache.h"
#include "gateway/evidence/verified_batches.h"
#include "trust/batch_statement.h"
#include "trust/merkle_known.h"
#include "trust/message_evidence.h"

namespace ptp {

// The signed fields of a unary message as this gateway sees it (body digest of env.body).
MessageFields message_fields(Hasher& h, const Envelope& env, Interface iface, int64_t sent_ms);

// x-ptp-receipt, its batch's statement or x-ptp-countersign (answers' evidence headers).
inline bool is_receipt_header(std::string_view name) {
  return name == kReceiptHeader || name == kCountersignHeader || name == kReceiptStatementHeader;
}
// Removes an answer's receipt and countersign before it goes to this node's client
// (evidence.receipt_to_client off): the evidence log has them.
void drop_receipt_headers(HeaderList& headers);

// Whether this gateway signs what it sends and checks what it receives under `cfg`:
// an evidence section with sign on and a node key.
inline bool evidence_signing(const Config& cfg) {
  return cfg.evidence.enabled && cfg.evidence.sign && cfg.identity.node_key;
}

class MessageSigning {
 public:
  // `value`: the header value (empty when signing failed).
  using Signed = std::function<void(std::string value)>;

  // Batches of other nodes kept verified (shared between the signing nodes: one peer's new
  // batches evict its own oldest, gateway/evidence/verified_batches.h), and of those the
  // latest that keep the tree nodes their paths went through.
  static constexpr size_t kVerifiedBatches = 4096;
  static constexpr size_t kKnownTrees = 16;
  // Batch statements of other nodes kept verified (each at most ~20 KB: its value of up to
  // 12 KiB and its 256 digests; ~16 KB more, its tree, until it is recorded).
  static constexpr size_t kVerifiedStatements = 128;
  // Another node's statement goes into the evidence log once it has proved at least one
  // message (or receipt) here per this many of its digests, i.e. once it costs the log no
  // more per record than a full proof's path would (8 digests: a batch of 256). Until then
  // the records hold full proofs made from it (docs/evidence.md "Batch statements"): a peer
  // that signs a fresh 256-digest statement for every message cannot make this node's log
  // keep ~11 KB per message.
  static constexpr uint32_t kStatementDigestsPerUse = 8;

  // `value`: the header value (empty when signing failed); `statement`: set when the value
  // is a v3 reference, to be sent with it (x-ptp-statement, x-ptp-receipt-statement).
  using SignedReferenced = std::function<void(std::string value, BatchSigner::Statement statement)>;

  explicit MessageSigning(boost::asio::any_io_executor ex) : signer_(ex) {}

  // Sender: the x-ptp-signature value of the message whose leaf is `leaf`
  // (message_leaf of its fields), sent at `sent_ms`.
  // `framed`: the statement is a ptp-msg-v2 (MessageFields::framing set): the value is
  // "v2;...", so that the receiver knows which statement to recompute.
  void sign_message(const Config& cfg, const Digest32& leaf, int64_t sent_ms, Signed done,
                    bool framed = false);
  // Sender: the same as a reference to the batch's statement ("v3;...", with the statement)
  // under evidence.batch_statements, or a full proof ("v1;...", no statement) without it or
  // when the batch was too big for a statement.
  void sign_message_referenced(const Config& cfg, const Digest32& leaf, int64_t sent_ms,
                               SignedReferenced done);
  // Receiver: the x-ptp-receipt value for message leaf `msg` received at `received_ms`,
  // answered with `code`.
  void sign_receipt(const Config& cfg, const Digest32& msg, int64_t received_ms, Code code,
                    Signed done);
  // The same as a reference to the batch's statement, as sign_message_referenced.
  void sign_receipt_referenced(const Config& cfg, const Digest32& msg, int64_t received_ms,
                               Code code, SignedReferenced done);
  // Records batch statements in `log` (null: nowhere): this thread's own (once per batch with
  // references) and other nodes' (once per statement this thread verifies), so that the log
  // proves its records' references (ptpctl evidence export).
  void record_statements_in(EvidenceLog* log);
  // Router: the x-ptp-countersign value over a receipt value (its leaf), timestamped now.
  // False (done not called) when the receipt does not parse.
  bool countersign(const Config& cfg, std::string_view receipt_value, int64_t now_ms, Signed done);

  // Receiver: checks `value` (x-ptp-signature) of message `m` (its sent_ms is taken from the
  // value) against the source's root key. Ok, or E0000000615 saying what failed; `leaf` is
  // the message leaf when the value parsed. A v3 value is checked against `statement`
  // (x-ptp-statement).
  // With `record_value`: set to the value the evidence record should hold instead of
  // `value` (its v1 form, a full proof, while its statement is not recorded), else cleared.
  Status verify_message(const Config& cfg, MessageFields& m, std::string_view value,
                        const PublicKey* source_key, Digest32& leaf,
                        std::string_view statement = {}, std::string* record_value = nullptr);
  // Sender: checks a receipt value for message leaf `msg` by `receiver` (its root key); a v3
  // value against `statement` (x-ptp-receipt-statement).
  // `record_value` as for verify_message.
  Status verify_receipt(const Config& cfg, const Digest32& msg, std::string_view receiver,
                        std::string_view value, const PublicKey* receiver_key,
                        std::string_view statement = {}, std::string* record_value = nullptr);

  // Sender: checks a countersign value over `receipt_value` by the router whose key is
  // `router_key`.
  Status verify_countersign(const Config& cfg, std::string_view receipt_value,
                            std::string_view value, const PublicKey* router_key);

  // Sender: the receipt on an answer and, when there is one, a router's countersign over
  // it; `key_of` finds a node's pinned root key (the receiver's, the router's).
  using KeyOf = std::function<const PublicKey*(std::string_view node, std::string& error)>;
  // `record_receipt` as verify_receipt's `record_value`.
  Status verify_answer_receipt(const Config& cfg, const Digest32& msg, std::string_view receiver,
                               std::string_view receipt, std::string_view countersign,
                               const KeyOf& key_of, std::string_view receipt_statement = {},
                               std::string* record_receipt = nullptr);

  Hasher& hasher(const Config& cfg) { return signer_.hasher(cfg.crypto.digest); }
  BatchSigner& signer() { return signer_; }
  uint64_t signature_checks() const { return signature_checks_; }
  const VerifiedBatches& verified_batches() const { return verified_; }

 private:
  void add(const Config& cfg, const Digest32& leaf, std::string prefix, Signed done);
  // Inclusion, then the batch signature unless this thread verified the batch before.
  bool verify(Hasher& h, const Digest32& leaf, const BatchProof& p, const PublicKey& key,
              std::string& error);
  // A reference: its statement's signature unless this thread verified that statement
  // before, then the statement's digest at its index. `value` is the whole value the
  // reference came in; `record_value` (cleared by the caller) gets its v1 form while the
  // statement is not recorded.
  bool verify_reference(Hasher& h, const Digest32& leaf, const BatchProof& p,
                        std::string_view statement, const PublicKey& key, std::string& error,
                        std::string_view value, std::string* record_value);
  void add_referenced(const Config& cfg, const Digest32& leaf, std::string_view tail,
                      SignedReferenced done);
  // A receipt's statement digest (`leaf`) and its value's parts after the version.
  std::string receipt_tail(const Config& cfg, const Digest32& msg, int64_t received_ms, Code code,
                           Digest32& leaf);

  struct KnownStatement {
    std::string value;
    BatchStatement statement;
    StatementTree tree;     // kept until the statement is recorded: the full proofs' paths
    uint32_t uses = 0;      // messages and receipts it proved here
    bool recorded = false;  // in the evidence log
  };
  // One more message or receipt proved by `k`: records the statement once it has proved
  // enough (kStatementDigestsPerUse), else gives `value`'s v1 form to record.
  void count_use(KnownStatement& k, std::string_view value, std::string* record_value);

  BatchSigner signer_;
  // Batches verified here by (node;batch;n;signature bytes): their root, and for the most
  // recent ones the tree nodes seen on their paths.
  VerifiedBatches verified_{kVerifiedBatches, kKnownTrees};
  // Statements verified here, by node;batch.
  PerNodeCache<KnownStatement> statements_{kVerifiedStatements};
  std::function<void(const std::string&)> record_statement_;
  uint64_t signature_checks_ = 0;
};

}  // namespace ptp
