// Non-repudiation of messages (docs/evidence.md, "Signatures and receipts"): the statements a
// gateway signs, in batches, and the header values that carry one statement's proof.
//
// A statement is a 32-byte digest (its "leaf"): H(canonical text), with the digest of the
// crypto profile. Three kinds:
//   message      "ptp-msg-v1\n" + version + "\n" + interface + "\n" + source node + "\n" +
//                source inst + "\n" + target node + "\n" + target inst + "\n" + session +
//                "\n" + trace id + "\n" + uri + "\n" + topic + "\n" + body size + "\n" +
//                hex(body digest) + "\n" + sent time (unix ms)
//   gRPC stream  "ptp-msg-v2\n" + framing ("grpc") + "\n" + the fields of ptp-msg-v1 after
//                its first line, with body size and digest those of the stream's messages
//                framed as gRPC frames them: each message's 0x00, its length (4 bytes, big
//                endian), its bytes (grpc_framed_prefix). The message boundaries are signed.
//   receipt      "ptp-receipt-v1\n" + hex(message leaf) + "\n" + receiver node + "\n" +
//                received time (unix ms) + "\n" + PTP status code ("E0000000000")
//   countersign  "ptp-countersign-v1\n" + hex(receipt leaf) + "\n" + router node + "\n" +
//                time (unix ms)
// A batch of statements is signed once: the node key signs
//   "ptp-batch-v1\n" + node + "\n" + batch id + "\n" + n + "\n" + hex(Merkle root)
// over the RFC 6962 tree of the leaves (trust/merkle.h); each statement carries its proof
//   proof = node ";" batch id ";" n ";" index ";" base64url(path digests, concatenated) ";"
//           base64url(signature)
// or, with its batch's statement in a header of its own (trust/batch_statement.h), a reference
//   reference = node ";" batch id ";" n ";" index
// Header values:
//   x-ptp-signature    "v1;" sent_ms ";" proof   ("v2;" for a ptp-msg-v2 statement)
//                      "v3;" sent_ms ";" reference   (a ptp-msg-v1 statement; x-ptp-statement)
//   x-ptp-receipt      "v1;" hex(message leaf) ";" received_ms ";" code ";" proof
//                      "v3;" hex(message leaf) ";" received_ms ";" code ";" reference
//                      (x-ptp-receipt-statement)
//   x-ptp-countersign  "v1;" hex(receipt leaf) ";" time_ms ";" proof
// Everything here is pure and needs only the signer's public key: a third party verifies
// one message alone (ptpctl evidence check-proof).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trust/digest.h"
#include "trust/public_key.h"

namespace ptp {

inline constexpr std::string_view kSignatureHeader = "x-ptp-signature";
inline constexpr std::string_view kReceiptHeader = "x-ptp-receipt";
inline constexpr std::string_view kCountersignHeader = "x-ptp-countersign";
// MessageFields::framing of a gRPC stream whose message boundaries are signed (ptp-msg-v2).
inline constexpr std::string_view kGrpcFraming = "grpc";

// The 5 bytes gRPC puts before a message of `size` bytes (uncompressed): what a framed
// statement's body digest takes before each message.
std::string grpc_framed_prefix(uint32_t size);

// The most leaves a batch may have (evidence.batch_max is at most this): a proof claiming
// more is refused as it is parsed. The claimed n is the signer's own choice, so without a
// bound a peer could make a verifier size per-batch state by 2^32.
inline constexpr uint32_t kMaxBatchLeaves = 65536;

// The longest x-ptp-receipt or x-ptp-countersign value a gateway checks or records: one that
// verifies is under 1 KiB (ids of at most 64 characters, a path of at most 16 digests, one
// signature). Answer headers have no 1 KiB field limit, so a peer (or a router) could
// otherwise make each of the sender's append-only records as long as its answer headers;
// a longer value is refused unparsed and recorded as its length only.
inline constexpr size_t kMaxProofValueBytes = 2048;

// The signed fields of one message (the names are those of evidence records and proofs).
struct MessageFields {
  std::string version;
  std::string iface;  // "interface": invoke, transport, ...
  std::string source_node;
  std::string source_inst;
  std::string target_node;
  std::string target_inst;
  std::string session;
  std::string trace;
  std::string uri;
  std::string topic;
  uint64_t body_size = 0;
  std::string body_digest;  // hex
  int64_t sent_ms = 0;
  // Empty: body size and digest are of the body's bytes (ptp-msg-v1). kGrpcFraming: of a
  // gRPC stream's messages as framed (ptp-msg-v2): its message boundaries are signed.
  std::string framing;

  // (name, value) pairs in text order: version, interface, source, source_inst, target,
  // target_inst, session, trace, uri, topic, size, body, sent_ms; then framing when set.
  std::vector<std::pair<std::string, std::string>> to_fields() const;
  // From such pairs (others ignored); false naming the first missing or bad one.
  static bool from_fields(const std::vector<std::pair<std::string, std::string>>& fields,
                          MessageFields& out, std::string& error);
};

std::string message_text(const MessageFields& m);
Digest32 message_leaf(Hasher& h, const MessageFields& m);
std::string receipt_text(std::string_view msg_hex, std::string_view node, int64_t received_ms,
                         std::string_view code);
std::string countersign_text(std::string_view receipt_hex, std::string_view node, int64_t time_ms);
std::string batch_text(std::string_view node, std::string_view batch_id, uint32_t n,
                       const Digest32& root);

// The text up to the next ';' of a header value (or the rest), split off `s`.
std::string_view next_evidence_part(std::string_view& s);

// Digests (an inclusion path, a statement's leaves) as one base64url text of their bytes
// concatenated, and back: nullopt when `text` is not base64url or not whole digests.
std::string digests_base64url(const std::vector<Digest32>& digests);
std::optional<std::vector<Digest32>> digests_from_base64url(std::string_view text);

// Node and batch ids: [A-Za-z0-9._:-], 1 to 64 characters.
bool is_evidence_id(std::string_view s);

struct BatchProof {
  std::string node;
  std::string batch_id;
  uint32_t n = 0;
  uint32_t index = 0;
  std::vector<Digest32> path;
  std::string signature;  // NodeKey::sign's bytes
  // A reference (v3): no path and no signature here; they are in the batch's statement.
  bool reference = false;
};

void append_batch_proof(std::string& out, std::string_view node, std::string_view batch_id,
                        uint32_t n, uint32_t index, const std::vector<Digest32>& path,
                        std::string_view signature_b64);
bool parse_batch_proof(std::string_view text, BatchProof& out, std::string& error);
void append_batch_reference(std::string& out, std::string_view node, std::string_view batch_id,
                            uint32_t n, uint32_t index);
bool parse_batch_reference(std::string_view text, BatchProof& out, std::string& error);

// The root `leaf` leads to along the proof's path; nullopt (error set) when it does not fit.
std::optional<Digest32> proof_root(Hasher& h, const Digest32& leaf, const BatchProof& p,
                                   std::string& error);
// Inclusion and the batch signature by `key`: false with error naming the failed part.
bool verify_statement(Hasher& h, const Digest32& leaf, const BatchProof& p, const PublicKey& key,
                      std::string& error);

struct SignatureValue {
  // 2: the signed statement is a ptp-msg-v2 (a gRPC stream's messages); 3: a ptp-msg-v1
  // whose proof is a reference to its batch's statement.
  int version = 1;
  int64_t sent_ms = 0;
  BatchProof proof;
};
struct ReceiptValue {
  int version = 1;  // 3: the proof is a reference to its batch's statement
  std::string msg;  // hex of the message leaf
  int64_t received_ms = 0;
  std::string code;
  BatchProof proof;
};
struct CountersignValue {
  std::string receipt;  // hex of the receipt leaf
  int64_t time_ms = 0;
  BatchProof proof;
};
bool parse_signature_value(std::string_view v, SignatureValue& out, std::string& error);
bool parse_receipt_value(std::string_view v, ReceiptValue& out, std::string& error);
bool parse_countersign_value(std::string_view v, CountersignValue& out, std::string& error);

// The leaf of a receipt value (its statement), and of a countersign value.
Digest32 receipt_leaf(Hasher& h, const ReceiptValue& r);
Digest32 countersign_leaf(Hasher& h, const CountersignValue& c);

}  // namespace ptp
