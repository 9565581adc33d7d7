#include "gateway/evidence/message_signing.h"

#include "gateway/evidence/message_records.h"
#include "trust/merkle.h"

namespace ptp {
namespace {

std::string_view topic_of(const Envelope& env) {
  static const std::string kTopic("message-topic");
  auto it = env.meta.find(kTopic);
  return it == env.meta.end() ? std::string_view() : std::string_view(it->second);
}

Status refused(std::string what) { return Status::Error(Code::kBadCertSignature, std::move(what)); }

// A receipt or countersign value longer than any that verifies: refused before it is parsed.
bool too_long(std::string_view header, std::string_view value, Status& st) {
  if (value.size() <= kMaxProofValueBytes) return false;
  st = refused(std::string(header) + " of " + std::to_string(value.size()) + " bytes (at most " +
               std::to_string(kMaxProofValueBytes) + ")");
  return true;
}

}  // namespace

void drop_receipt_headers(HeaderList& headers) {
  erase_if(headers, [](const auto& kv) { return is_receipt_header(kv.first); });
}

MessageFields message_fields(Hasher& h, const Envelope& env, Interface iface, int64_t sent_ms) {
  const PtpHeader& hd = env.header;
  MessageFields m;
  // An absent x-ptp-version is version 1 (encapsulated requests carry none on the wire).
  m.version = hd.version.empty() ? "1" : hd.version;
  m.iface = interface_name(iface);
  m.source_node = hd.source_node_id;
  m.source_inst = hd.source_inst_id;
  m.target_node = hd.target_node_id;
  m.target_inst = hd.target_inst_id;
  m.session = hd.session_id;
  m.trace = hd.trace_id;
  m.uri = hd.uri;
  m.topic = topic_of(env);
  m.body_size = env.body.size();
  h.update(env.body);
  m.body_digest = digest_hex(h.finish());
  m.sent_ms = sent_ms;
  return m;
}

void MessageSigning::add(const Config& cfg, const Digest32& leaf, std::string prefix, Signed done) {
  signer_.add(cfg.identity.node_key, cfg.node_id, cfg.crypto.digest, leaf,
              std::chrono::microseconds(cfg.evidence.batch_window_us),
              static_cast<size_t>(cfg.evidence.batch_max),
              [prefix = std::move(prefix), done = std::move(done)](std::string_view proof) {
                if (proof.empty()) return done({});
                std::string v = prefix;
                v.append(proof);
                done(std::move(v));
              });
}

void MessageSigning::add_referenced(const Config& cfg, const Digest32& leaf, std::string_view tail,
                                    SignedReferenced done) {
  // tail: the value's parts between the version and the proof ("sent_ms;", ...).
  signer_.add_referenced(
      cfg.identity.node_key, cfg.node_id, cfg.crypto.digest, leaf,
      std::chrono::microseconds(cfg.evidence.batch_window_us),
      static_cast<size_t>(cfg.evidence.batch_max),
      [tail = std::string(tail), done = std::move(done)](std::string_view proof,
                                                         const BatchSigner::Statement& statement) {
        if (proof.empty()) return done({}, nullptr);
        std::string v;
        v.reserve(3 + tail.size() + proof.size());
        v.append(statement ? "v3;" : "v1;").append(tail).append(proof);
        done(std::move(v), statement);
      },
      cfg.evidence.batch_statements);
}

void MessageSigning::sign_message_referenced(const Config& cfg, const Digest32& leaf,
                                             int64_t sent_ms, SignedReferenced done) {
  add_referenced(cfg, leaf, std::to_string(sent_ms) + ";", std::move(done));
}

std::string MessageSigning::receipt_tail(const Config& cfg, const Digest32& msg,
                                         int64_t received_ms, Code code, Digest32& leaf) {
  const std::string msg_hex = digest_hex(msg);
  const std::string code_text = code_string(code);
  Hasher& h = hasher(cfg);
  h.update(receipt_text(msg_hex, cfg.node_id, received_ms, code_text));
  leaf = h.finish();
  return msg_hex + ";" + std::to_string(received_ms) + ";" + code_text + ";";
}

void MessageSigning::sign_receipt_referenced(const Config& cfg, const Digest32& msg,
                                             int64_t received_ms, Code code,
                                             SignedReferenced done) {
  Digest32 leaf{};
  const std::string tail = receipt_tail(cfg, msg, received_ms, code, leaf);
  add_referenced(cfg, leaf, tail, std::move(done));
}

void MessageSigning::record_statements_in(EvidenceLog* log) {
  if (!log) {
    record_statement_ = nullptr;
    signer_.set_statement_hook(nullptr);
    return;
  }
  record_statement_ = [log](const std::string& statement) { record_statement(log, statement); };
  signer_.set_statement_hook(record_statement_);
}

void MessageSigning::sign_message(const Config& cfg, const Digest32& leaf, int64_t sent_ms,
                                  Signed done, bool framed) {
  add(cfg, leaf, (framed ? "v2;" : "v1;") + std::to_string(sent_ms) + ";", std::move(done));
}

void MessageSigning::sign_receipt(const Config& cfg, const Digest32& msg, int64_t received_ms,
                                  Code code, Signed done) {
  Digest32 leaf{};
  const std::string tail = receipt_tail(cfg, msg, received_ms, code, leaf);
  add(cfg, leaf, "v1;" + tail, std::move(done));
}

bool MessageSigning::countersign(const Config& cfg, std::string_view receipt_value, int64_t now_ms,
                                 Signed done) {
  ReceiptValue r;
  std::string error;
  if (receipt_value.size() > kMaxProofValueBytes || !parse_receipt_value(receipt_value, r, error))
    return false;
  Hasher& h = hasher(cfg);
  const std::string receipt_hex = digest_hex(receipt_leaf(h, r));
  h.update(countersign_text(receipt_hex, cfg.node_id, now_ms));
  const Digest32 leaf = h.finish();
  add(cfg, leaf, "v1;" + receipt_hex + ";" + std::to_string(now_ms) + ";", std::move(done));
  return true;
}

bool MessageSigning::verify(Hasher& h, const Digest32& leaf, const BatchProof& p,
                            const PublicKey& key, std::string& error) {
  // The key holds the signature itself: a later statement of a verified batch with other
  // signature bytes is checked again (a receipt kept with a bad signature would not verify
  // for a third party).
  std::string id = p.node;
  id.append(";").append(p.batch_id).append(";").append(std::to_string(p.n)).append(";");
  id.append(p.signature);
  if (MerkleKnownNodes* tree = verified_.find(id)) {
    if (tree->leads_to_root(h, merkle_leaf_hash(h, leaf), p.index, p.path)) return true;
    // Not in the verified tree: checked in full below, which fails saying where.
  }
  auto root = proof_root(h, leaf, p, error);
  if (!root) return false;
  ++signature_checks_;
  if (!key.verify(batch_text(p.node, p.batch_id, p.n, *root), p.signature)) {
    error = "batch signature of " + p.node + " does not verify (statement or batch altered)";
    return false;
  }
  if (verified_.find(id)) return true;  // the same batch, another root: not learnt
  MerkleKnownNodes tree(p.n, *root);
  tree.leads_to_root(h, merkle_leaf_hash(h, leaf), p.index, p.path);  // learns its path
  verified_.add(p.node, std::move(id), std::move(tree));
  return true;
}

bool MessageSigning::verify_reference(Hasher& h, const Digest32& leaf, const BatchProof& p,
                                      std::string_view statement, const PublicKey& key,
                                      std::string& error, std::string_view value,
                                      std::string* record_value) {
  if (statement.empty()) {
    error = "the reference comes without its batch statement";
    return false;
  }
  std::string_view node, batch;
  if (!statement_id(statement, node, batch) || node != p.node || batch != p.batch_id) {
    error = "the batch statement is not the one of the reference";
    return false;
  }
  std::string id(node);
  id.append(";").append(batch);
  KnownStatement* known = statements_.find(id);
  if (known && known->value == statement) {
    if (!statement_holds(known->statement, p, leaf, error)) return false;
    count_use(*known, value, record_value);
    return true;
  }
  // New here (or another statement under a known id: checked, not kept).
  KnownStatement fresh{std::string(statement), {}, {}};
  if (!parse_statement_value(statement, fresh.statement, error)) return false;
  ++signature_checks_;
  if (!verify_batch_statement(h, fresh.statement, key, error, &fresh.tree)) return false;
  // Counted (and recorded) only once it proves a message here: a refused one leaves no record.
  if (!statement_holds(fresh.statement, p, leaf, error)) return false;
  if (!known) {
    if (KnownStatement* added = statements_.add(node, std::move(id), std::move(fresh))) {
      count_use(*added, value, record_value);
      return true;
    }
  }
  // Not kept: the record holds the full proof.
  std::string ignored;
  if (record_value && record_statement_)
    expand_reference_value(value, fresh.statement, fresh.tree, *record_value, ignored);
  return true;
}

void MessageSigning::count_use(KnownStatement& k, std::string_view value,
                               std::string* record_value) {
  ++k.uses;
  if (k.recorded || !record_statement_) return;
  if (static_cast<uint64_t>(k.uses) * kStatementDigestsPerUse >= k.statement.leaves.size()) {
    record_statement_(k.value);
    k.recorded = true;
    k.tree = StatementTree{};  // references to it from now on: no paths needed
    return;
  }
  std::string ignored;
  if (record_value) expand_reference_value(value, k.statement, k.tree, *record_value, ignored);
}

Status MessageSigning::verify_message(const Config& cfg, MessageFields& m, std::string_view value,
                                      const PublicKey* source_key, Digest32& leaf,
                                      std::string_view statement, std::string* record_value) {
  if (record_value) record_value->clear();
  SignatureValue sv;
  std::string error;
  if (!parse_signature_value(value, sv, error))
    return refused("x-ptp-signature of the message from " + m.source_node + ": " + error);
  if (sv.version == 3 && !m.framing.empty())
    return refused("x-ptp-signature of the message from " + m.source_node +
                   " is a reference (v3), which does not sign a gRPC stream's messages");
  if (sv.version != 3 && (sv.version == 2) != !m.framing.empty())
    return refused("x-ptp-signature of the message from " + m.source_node +
                   (sv.version == 2 ? " signs a gRPC stream's messages (v2), but what arrived "
                                      "is not a gRPC stream"
                                    : " does not sign the gRPC stream's messages (v1)"));
  m.sent_ms = sv.sent_ms;
  leaf = message_leaf(hasher(cfg), m);
  if (sv.proof.node != m.source_node)
    return refused("x-ptp-signature is signed by " + sv.proof.node + ", not by the source " +
                   m.source_node);
  if (!source_key)
    return refused("no pinned root for node " + m.source_node +
                   " to check its message signature with");
  const bool ok = sv.version == 3 ? verify_reference(hasher(cfg), leaf, sv.proof, statement,
                                                     *source_key, error, value, record_value)
                                  : verify(hasher(cfg), leaf, sv.proof, *source_key, error);
  if (!ok)
    return refused("x-ptp-signature of the message from " + m.source_node +
                   " does not match what arrived: " + error);
  return Status::Ok();
}

Status MessageSigning::verify_receipt(const Config& cfg, const Digest32& msg,
                                      std::string_view receiver, std::string_view value,
                                      const PublicKey* receiver_key, std::string_view statement,
                                      std::string* record_value) {
  if (record_value) record_value->clear();
  ReceiptValue r;
  std::string error;
  if (Status st; too_long(kReceiptHeader, value, st)) return st;
  if (!parse_receipt_value(value, r, error)) return refused("x-ptp-receipt: " + error);
  if (r.msg != digest_hex(msg)) return refused("x-ptp-receipt is for another message");
  if (r.proof.node != receiver)
    return refused("x-ptp-receipt is signed by " + r.proof.node + ", not by " +
                   std::string(receiver));
  if (!receiver_key)
    return refused("no pinned root for node " + std::string(receiver) +
                   " to check its receipt with");
  const Digest32 leaf = receipt_leaf(hasher(cfg), r);
  const bool ok = r.version == 3 ? verify_reference(hasher(cfg), leaf, r.proof, statement,
                                                    *receiver_key, error, value, record_value)
                                 : verify(hasher(cfg), leaf, r.proof, *receiver_key, error);
  if (!ok) return refused("x-ptp-receipt of " + std::string(receiver) + ": " + error);
  return Status::Ok();
}

Status MessageSigning::verify_countersign(const Config& cfg, std::string_view receipt_value,
                                          std::string_view value, const PublicKey* router_key) {
  ReceiptValue r;
  CountersignValue c;
  std::string error;
  if (Status st;
      too_long(kReceiptHeader, receipt_value, st) || too_long(kCountersignHeader, value, st))
    return st;
  if (!parse_receipt_value(receipt_value, r, error)) return refused("x-ptp-receipt: " + error);
  if (!parse_countersign_value(value, c, error)) return refused("x-ptp-countersign: " + error);
  if (c.receipt != digest_hex(receipt_leaf(hasher(cfg), r)))
    return refused("x-ptp-countersign is over another receipt");
  if (!router_key)
    return refused("no pinned root for node " + c.proof.node + " to check its countersign with");
  if (!verify(hasher(cfg), countersign_leaf(hasher(cfg), c), c.proof, *router_key, error))
    return refused("x-ptp-countersign of " + c.proof.node + ": " + error);
  return Status::Ok();
}

Status MessageSigning::verify_answer_receipt(const Config& cfg, const Digest32& msg,
                                             std::string_view receiver, std::string_view receipt,
                                             std::string_view countersign, const KeyOf& key_of,
                                             std::string_view receipt_statement,
                                             std::string* record_receipt) {
  std::string error;
  Status st = verify_receipt(cfg, msg, receiver, receipt, key_of(receiver, error),
                             receipt_statement, record_receipt);
  if (!st.ok() || countersign.empty()) return st;
  CountersignValue cv;
  const PublicKey* router =
      parse_countersign_value(countersign, cv, error) ? key_of(cv.proof.node, error) : nullptr;
  return verify_countersign(cfg, receipt, countersign, router);
}

}  // namespace ptp
