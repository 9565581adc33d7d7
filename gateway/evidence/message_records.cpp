#include "gateway/evidence/message_records.h"

namespace ptp {
namespace {

bool with_message(EvidenceLog* log, std::string_view kind, const MessageFields& m,
                  const Digest32& msg, std::initializer_list<EvidenceField> tail) {
  std::vector<std::pair<std::string, std::string>> fields;
  fields.reserve(16);
  fields.emplace_back("msg", digest_hex(msg));
  for (auto& f : m.to_fields()) fields.push_back(std::move(f));
  for (const auto& f : tail)
    if (!f.value.empty()) fields.emplace_back(std::string(f.key), std::string(f.value));
  return log->append(kind, fields);
}

}  // namespace

bool record_sent(EvidenceLog* log, const MessageFields& m, const Digest32& msg,
                 std::string_view sig) {
  return !log || with_message(log, "sent", m, msg, {{"sig", sig}});
}

bool record_receipt(EvidenceLog* log, const Digest32& msg, std::string_view from,
                    std::string_view status, std::string_view receipt,
                    std::string_view countersign) {
  if (!log) return true;
  const std::string hex = digest_hex(msg);
  if (countersign.empty())
    return log->append("receipt",
                       {{"msg", hex}, {"from", from}, {"status", status}, {"receipt", receipt}});
  return log->append("receipt", {{"msg", hex},
                                 {"from", from},
                                 {"status", status},
                                 {"receipt", receipt},
                                 {"countersign", countersign}});
}

bool record_received(EvidenceLog* log, const MessageFields& m, const Digest32& msg,
                     std::string_view sig, std::string_view status, std::string_view receipt) {
  return !log || with_message(log, "received", m, msg,
                              {{"sig", sig}, {"status", status}, {"receipt", receipt}});
}

bool evidence_accepting(const EvidenceLog* log, const EvidenceConfig& cfg) {
  return !log || cfg.on_failure == EvidenceOnFailure::kContinue || log->accepting();
}

}  // namespace ptp
