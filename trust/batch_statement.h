// Batch statements (docs/evidence.md, "Batch statements"): a signed batch as one header value,
//   node ";" batch id ";" n ";" base64url(the n statement digests, concatenated) ";"
//   base64url(signature)
// where the signature is the one of the batch (batch_text over the RFC 6962 root of the
// digests' leaf hashes, trust/message_evidence.h). A message or receipt whose value is a
// reference (v3: node;batch;n;index, no path, no signature) travels with its batch's
// statement; the receiver checks the statement's signature once and each message by comparing
// its digest with the statement's digest at its index. Every message of a batch carries the
// same statement, so on an HTTP/2 link HPACK sends it once per connection and then as an
// index of a few bytes.
//
// A statement with its index is as good as a full proof: statement_proof() builds the
// node;batch;n;index;path;signature proof a third party checks (ptpctl evidence export).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/header_codec.h"
#include "trust/digest.h"
#include "trust/message_evidence.h"
#include "trust/public_key.h"

namespace ptp {

// On requests (a message's batch) and on answers (a receipt's batch).
inline constexpr std::string_view kStatementHeader = kStatementHeaderName;
inline constexpr std::string_view kReceiptStatementHeader = "x-ptp-receipt-statement";

// The most digests a statement holds: a bigger batch gives its statements full proofs (v1).
// 256 digests (evidence.batch_max's default) make a value of at most ~11.2 KB with ids and
// signature: under kMaxStatementValueBytes, and small enough for HPACK to index it in the
// 16 KiB table gateways use between them (an entry may take 3/4 of the table).
inline constexpr uint32_t kMaxStatementLeaves = 256;

struct BatchStatement {
  std::string node;
  std::string batch_id;
  std::vector<Digest32> leaves;  // the statements' digests, in batch order
  std::string signature;         // NodeKey::sign's bytes
};

// The header value of a batch; `signature_b64` base64url.
std::string statement_value(std::string_view node, std::string_view batch_id,
                            const std::vector<Digest32>& leaves, std::string_view signature_b64);
// Parses a value (at most kMaxStatementValueBytes, 1..kMaxStatementLeaves digests); false
// with `error` saying what is wrong. Does not check the signature.
bool parse_statement_value(std::string_view value, BatchStatement& out, std::string& error);
// The node and batch id of a value without decoding the rest: a receiver's cache key.
bool statement_id(std::string_view value, std::string_view& node, std::string_view& batch_id);

// The levels of a statement's tree (merkle_levels over its digests' leaf hashes).
using StatementTree = std::vector<std::vector<Digest32>>;

// The batch signature over the root of the statement's digests, by `key`; with `tree`, the
// levels it computed on the way (for statement_proof without hashing again).
bool verify_batch_statement(Hasher& h, const BatchStatement& s, const PublicKey& key,
                            std::string& error, StatementTree* tree = nullptr);

// The full proof (node;batch;n;index;path;signature, append_batch_proof) of digest `index`.
std::string statement_proof(Hasher& h, const BatchStatement& s, uint32_t index);
// The same from the statement's tree.
std::string statement_proof(const BatchStatement& s, const StatementTree& tree, uint32_t index);

// Whether reference `p` (a v3 value's) names statement `s` and `leaf` is its digest at p.index.
bool statement_holds(const BatchStatement& s, const BatchProof& p, const Digest32& leaf,
                     std::string& error);

// The v1 form (a full proof in place of the reference) of a v3 x-ptp-signature or
// x-ptp-receipt value, from its batch's statement: what ptpctl evidence export gives a third
// party. False (error set) when the value is no v3 value or names another batch.
bool expand_reference_value(Hasher& h, std::string_view value, const BatchStatement& s,
                            std::string& out, std::string& error);
// The same from the statement's tree.
bool expand_reference_value(std::string_view value, const BatchStatement& s,
                            const StatementTree& tree, std::string& out, std::string& error);

}  // namespace ptp
