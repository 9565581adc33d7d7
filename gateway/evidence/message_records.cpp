#include "gateway/evidence/message_records.h"

#include <array>
#include <span>
#include <string>

namespace ptp {
namespace {

bool with_message(EvidenceLog* log, std::string_view kind, const MessageFields& m,
                  const Digest32& msg, std::initializer_list<EvidenceField> tail) {
  // The fields of MessageFields::to_fields(), in its order, as views: no copies per record.
  const std::string hex = digest_hex(msg);
  const std::string size = std::to_string(m.body_size);
  const std::string sent = std::to_string(m.sent_ms);
  std::array<EvidenceField, 19> fields{{{"msg", hex},
                                        {"version", m.version},
                                        {"interface", m.iface},
                                        {"source", m.source_node},
                                        {"source_inst", m.source_inst},
                                        {"target", m.target_node},
                                        {"target_inst", m.target_inst},
                                        {"session", m.session},
                                        {"trace", m.trace},
                                        {"uri", m.uri},
                                        {"topic", m.topic},
                                        {"size", size},
                                        {"body", m.body_digest},
                                        {"sent_ms", sent}}};
  size_t n = 14;
  if (!m.framing.empty()) fields[n++] = {"framing", m.framing};
  for (const auto& f : tail)
    if (!f.value.empty() && n < fields.size()) fields[n++] = f;
  return log->append(kind, std::span<const EvidenceField>(fields.data(), n));
}

// A receipt or countersign value as its record keeps it: verbatim up to kMaxProofValueBytes
// (under `name`), a longer one as "<length> bytes" (under `refused_name`, in `note`).
EvidenceField proof_field(std::string_view name, std::string_view refused_name,
                          std::string_view value, std::string& note) {
  if (value.size() <= kMaxProofValueBytes) return {name, value};
  note = std::to_string(value.size()) + " bytes";
  return {refused_name, note};
}

}  // namespace

bool record_sent(EvidenceLog* log, const MessageFields& m, const Digest32& msg,
                 std::string_view sig) {
  return !log || with_message(log, "sent", m, msg, {{"sig", sig}});
}

bool record_sent_answered(EvidenceLog* log, const MessageFields& m, const Digest32& msg,
                          std::string_view sig, std::string_view status, std::string_view receipt,
                          std::string_view countersign) {
  if (!log) return true;
  std::string receipt_note, countersign_note;
  return with_message(
      log, "sent", m, msg,
      {{"sig", sig},
       {"status", status},
       proof_field("receipt", "receipt_refused", receipt, receipt_note),
       proof_field("countersign", "countersign_refused", countersign, countersign_note)});
}

bool record_receipt(EvidenceLog* log, const Digest32& msg, std::string_view from,
                    std::string_view status, std::string_view receipt,
                    std::string_view countersign) {
  if (!log) return true;
  const std::string hex = digest_hex(msg);
  std::string receipt_note, countersign_note;
  const EvidenceField r = proof_field("receipt", "receipt_refused", receipt, receipt_note);
  if (countersign.empty())
    return log->append("receipt", {{"msg", hex}, {"from", from}, {"status", status}, r});
  return log->append("receipt", {{"msg", hex},
                                 {"from", from},
                                 {"status", status},
                                 r,
                                 proof_field("countersign", "countersign_refused", countersign,
                                             countersign_note)});
}

bool record_received(EvidenceLog* log, const MessageFields& m, const Digest32& msg,
                     std::string_view sig, std::string_view status, std::string_view receipt) {
  return !log || with_message(log, "received", m, msg,
                              {{"sig", sig}, {"status", status}, {"receipt", receipt}});
}

bool record_statement(EvidenceLog* log, std::string_view statement) {
  return !log || log->append("statement", {{"statement", statement}});
}

bool evidence_accepting(const EvidenceLog* log, const EvidenceConfig& cfg) {
  return !log || cfg.on_failure == EvidenceOnFailure::kContinue || log->accepting();
}

}  // namespace ptp
