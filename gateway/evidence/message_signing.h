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
#include "gateway/evidence/verified_batches.h"
#include "trust/merkle_known.h"
#include "trust/message_evidence.h"

namespace ptp {

// The signed fields of a unary message as this gateway sees it (body digest of env.body).
MessageFields message_fields(Hasher& h, const Envelope& env, Interface iface, int64_t sent_ms);

// x-ptp-receipt or x-ptp-countersign (answers' evidence headers).
inline bool is_receipt_header(std::string_view name) {
  return name == kReceiptHeader || name == kCountersignHeader;
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

  explicit MessageSigning(boost::asio::any_io_executor ex) : signer_(ex) {}

  // Sender: the x-ptp-signature value of the message whose leaf is `leaf`
  // (message_leaf of its fields), sent at `sent_ms`.
  // `framed`: the statement is a ptp-msg-v2 (MessageFields::framing set): the value is
  // "v2;...", so that the receiver knows which statement to recompute.
  void sign_message(const Config& cfg, const Digest32& leaf, int64_t sent_ms, Signed done,
                    bool framed = false);
  // Receiver: the x-ptp-receipt value for message leaf `msg` received at `received_ms`,
  // answered with `code`.
  void sign_receipt(const Config& cfg, const Digest32& msg, int64_t received_ms, Code code,
                    Signed done);
  // Router: the x-ptp-countersign value over a receipt value (its leaf), timestamped now.
  // False (done not called) when the receipt does not parse.
  bool countersign(const Config& cfg, std::string_view receipt_value, int64_t now_ms, Signed done);

  // Receiver: checks `value` (x-ptp-signature) of message `m` (its sent_ms is taken from the
  // value) against the source's root key. Ok, or E0000000615 saying what failed; `leaf` is
  // the message leaf when the value parsed.
  Status verify_message(const Config& cfg, MessageFields& m, std::string_view value,
                        const PublicKey* source_key, Digest32& leaf);
  // Sender: checks a receipt value for message leaf `msg` by `receiver` (its root key).
  Status verify_receipt(const Config& cfg, const Digest32& msg, std::string_view receiver,
                        std::string_view value, const PublicKey* receiver_key);

  // Sender: checks a countersign value over `receipt_value` by the router whose key is
  // `router_key`.
  Status verify_countersign(const Config& cfg, std::string_view receipt_value,
                            std::string_view value, const PublicKey* router_key);

  // Sender: the receipt on an answer and, when there is one, a router's countersign over
  // it; `key_of` finds a node's pinned root key (the receiver's, the router's).
  using KeyOf = std::function<const PublicKey*(std::string_view node, std::string& error)>;
  Status verify_answer_receipt(const Config& cfg, const Digest32& msg, std::string_view receiver,
                               std::string_view receipt, std::string_view countersign,
                               const KeyOf& key_of);

  Hasher& hasher(const Config& cfg) { return signer_.hasher(cfg.crypto.digest); }
  BatchSigner& signer() { return signer_; }
  uint64_t signature_checks() const { return signature_checks_; }
  const VerifiedBatches& verified_batches() const { return verified_; }

 private:
  void add(const Config& cfg, const Digest32& leaf, std::string prefix, Signed done);
  // Inclusion, then the batch signature unless this thread verified the batch before.
  bool verify(Hasher& h, const Digest32& leaf, const BatchProof& p, const PublicKey& key,
              std::string& error);

  BatchSigner signer_;
  // Batches verified here by (node;batch;n;signature bytes): their root, and for the most
  // recent ones the tree nodes seen on their paths.
  VerifiedBatches verified_{kVerifiedBatches, kKnownTrees};
  uint64_t signature_checks_ = 0;
};

}  // namespace ptp
