#include "trust/batch_statement.h"

#include <algorithm>
#include <charconv>

#include "codecs/base64.h"
#include "trust/merkle.h"
#include "trust/message_evidence.h"

namespace ptp {
namespace {

StatementTree levels_of(Hasher& h, const BatchStatement& s) {
  std::vector<Digest32> hashes;
  hashes.reserve(s.leaves.size());
  for (const Digest32& l : s.leaves) hashes.push_back(merkle_leaf_hash(h, l));
  return merkle_levels(h, std::move(hashes));
}

}  // namespace

std::string statement_value(std::string_view node, std::string_view batch_id,
                            const std::vector<Digest32>& leaves, std::string_view signature_b64) {
  std::string v;
  v.reserve(node.size() + batch_id.size() + 16 + leaves.size() * 32 * 4 / 3 + signature_b64.size());
  v.append(node).push_back(';');
  v.append(batch_id).push_back(';');
  v.append(std::to_string(leaves.size())).push_back(';');
  v.append(digests_base64url(leaves)).push_back(';');
  v.append(signature_b64);
  return v;
}

bool statement_id(std::string_view value, std::string_view& node, std::string_view& batch_id) {
  node = next_evidence_part(value);
  batch_id = next_evidence_part(value);
  return !node.empty() && !batch_id.empty() && !value.empty();
}

bool parse_statement_value(std::string_view v, BatchStatement& out, std::string& error) {
  if (v.size() > kMaxStatementValueBytes) {
    error = "statement: longer than " + std::to_string(kMaxStatementValueBytes) + " bytes";
    return false;
  }
  const std::string_view node = next_evidence_part(v), batch = next_evidence_part(v),
                         n_text = next_evidence_part(v), leaves = next_evidence_part(v),
                         sig = next_evidence_part(v);
  if (!v.empty() || sig.empty()) {
    error = "statement: expected node;batch;n;digests;signature";
    return false;
  }
  if (!is_evidence_id(node) || !is_evidence_id(batch)) {
    error = "statement: bad node or batch id";
    return false;
  }
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(n_text.data(), n_text.data() + n_text.size(), n);
  if (ec != std::errc() || p != n_text.data() + n_text.size() || n == 0 ||
      n > kMaxStatementLeaves) {
    error = "statement: bad digest count";
    return false;
  }
  auto digests = digests_from_base64url(leaves);
  if (!digests || digests->size() != n) {
    error = "statement: the digests do not match their count";
    return false;
  }
  auto sig_bytes = base64url_decode(sig);
  if (!sig_bytes || sig_bytes->empty()) {
    error = "statement: bad signature encoding";
    return false;
  }
  out.node = node;
  out.batch_id = batch;
  out.leaves = std::move(*digests);
  out.signature = std::move(*sig_bytes);
  return true;
}

bool verify_batch_statement(Hasher& h, const BatchStatement& s, const PublicKey& key,
                            std::string& error, StatementTree* tree) {
  if (s.leaves.empty()) {
    error = "statement without digests";
    return false;
  }
  StatementTree levels = levels_of(h, s);
  const Digest32 root = levels.back().at(0);
  const auto n = static_cast<uint32_t>(s.leaves.size());
  if (!key.verify(batch_text(s.node, s.batch_id, n, root), s.signature)) {
    error = "batch signature of " + s.node + " does not verify (statement or batch altered)";
    return false;
  }
  if (tree) *tree = std::move(levels);
  return true;
}

std::string statement_proof(const BatchStatement& s, const StatementTree& tree, uint32_t index) {
  std::string out;
  append_batch_proof(out, s.node, s.batch_id, static_cast<uint32_t>(s.leaves.size()), index,
                     merkle_path(tree, index), base64url_encode(s.signature));
  return out;
}

std::string statement_proof(Hasher& h, const BatchStatement& s, uint32_t index) {
  return statement_proof(s, levels_of(h, s), index);
}

bool statement_holds(const BatchStatement& s, const BatchProof& p, const Digest32& leaf,
                     std::string& error) {
  if (p.node != s.node || p.batch_id != s.batch_id || p.n != s.leaves.size()) {
    error = "the reference (" + p.node + ";" + p.batch_id + ";" + std::to_string(p.n) +
            ") names another batch than its statement (" + s.node + ";" + s.batch_id + ";" +
            std::to_string(s.leaves.size()) + ")";
    return false;
  }
  if (p.index >= s.leaves.size() || s.leaves[p.index] != leaf) {
    error = "the statement's digest " + std::to_string(p.index) + " is not this one";
    return false;
  }
  return true;
}

bool expand_reference_value(Hasher& h, std::string_view value, const BatchStatement& s,
                            std::string& out, std::string& error) {
  return expand_reference_value(value, s, levels_of(h, s), out, error);
}

bool expand_reference_value(std::string_view value, const BatchStatement& s,
                            const StatementTree& tree, std::string& out, std::string& error) {
  if (!value.starts_with("v3;")) {
    error = "not a v3 value";
    return false;
  }
  // The reference is the last four parts: everything before it stays as it is.
  size_t cut = value.size();
  for (int i = 0; i < 4; ++i) {
    cut = value.rfind(';', cut - 1);
    if (cut == std::string_view::npos || cut < 3) {
      error = "v3 value without a reference";
      return false;
    }
  }
  BatchProof p;
  if (!parse_batch_reference(value.substr(cut + 1), p, error)) return false;
  if (p.node != s.node || p.batch_id != s.batch_id || p.n != s.leaves.size()) {
    error = "the value refers to another batch than the statement";
    return false;
  }
  out = "v1;";
  out.append(value.substr(3, cut - 3 + 1));
  out.append(statement_proof(s, tree, p.index));
  return true;
}

}  // namespace ptp
