#include "trust/message_proof.h"

namespace ptp {
namespace {

ProofCheck failed(std::string part, std::string error) {
  ProofCheck c;
  c.failed = std::move(part);
  c.error = std::move(error);
  return c;
}

// The public key of `node`'s root among `roots`; nullopt with `error`.
std::optional<PublicKey> root_key(const std::vector<Certificate>& roots, const std::string& node,
                                  std::string& error) {
  for (const Certificate& c : roots) {
    if (c.node_id() != node) continue;
    if (!verify_node_root(c, node, error)) return std::nullopt;
    return c.public_key(error);
  }
  error = "no root certificate of node " + node + " was given";
  return std::nullopt;
}

}  // namespace

ProofCheck check_message_proof(const MessageProof& p, const std::vector<Certificate>& roots) {
  Hasher h(p.digest);
  MessageFields m;
  std::string error;
  if (!MessageFields::from_fields(p.message, m, error)) return failed("message", error);
  const Digest32 leaf = message_leaf(h, m);
  if (digest_hex(leaf) != p.msg)
    return failed("message", "the message fields do not give the leaf msg " + p.msg +
                                 " (a field was altered)");

  SignatureValue sv;
  if (!parse_signature_value(p.signature, sv, error)) return failed("signature", error);
  if (sv.sent_ms != m.sent_ms)
    return failed("signature", "its sent time is not the message's sent_ms");
  if ((sv.version == 2) != !m.framing.empty())
    return failed("signature", sv.version == 2 ? "a v2 signature, but the message has no framing"
                                               : "a v1 signature, but the message has a framing");
  if (sv.proof.node != m.source_node)
    return failed("signature",
                  "signed by " + sv.proof.node + ", not by the source " + m.source_node);
  auto source_key = root_key(roots, m.source_node, error);
  if (!source_key) return failed("roots", error);
  if (!verify_statement(h, leaf, sv.proof, *source_key, error)) return failed("signature", error);

  ProofCheck c;
  c.source = m.source_node;
  c.target = m.target_node;
  c.sent_ms = m.sent_ms;
  if (p.receipt.empty()) {
    if (!p.countersign.empty()) return failed("countersign", "a countersign without a receipt");
    return c;
  }
  ReceiptValue r;
  if (!parse_receipt_value(p.receipt, r, error)) return failed("receipt", error);
  if (r.msg != p.msg) return failed("receipt", "it is the receipt of another message");
  if (r.proof.node != m.target_node)
    return failed("receipt", "signed by " + r.proof.node + ", not by the target " + m.target_node);
  auto target_key = root_key(roots, m.target_node, error);
  if (!target_key) return failed("roots", error);
  const Digest32 rleaf = receipt_leaf(h, r);
  if (!verify_statement(h, rleaf, r.proof, *target_key, error)) return failed("receipt", error);
  c.received_ms = r.received_ms;
  c.status = r.code;
  if (p.countersign.empty()) return c;

  CountersignValue cs;
  if (!parse_countersign_value(p.countersign, cs, error)) return failed("countersign", error);
  if (cs.receipt != digest_hex(rleaf))
    return failed("countersign", "it countersigns another receipt");
  auto router_key = root_key(roots, cs.proof.node, error);
  if (!router_key) return failed("roots", error);
  if (!verify_statement(h, countersign_leaf(h, cs), cs.proof, *router_key, error))
    return failed("countersign", error);
  c.router = cs.proof.node;
  c.countersigned_ms = cs.time_ms;
  return c;
}

}  // namespace ptp
