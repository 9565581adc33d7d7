// The evidence records of signed messages (docs/evidence.md): what the sender and the
// receiver write to their evidence logs, so that `ptpctl evidence match` pairs them by
// `msg` (the message leaf) and `ptpctl evidence export` builds one message's proof.
//   sent      msg, the message fields (MessageFields::to_fields), sig (x-ptp-signature);
//             written when the answer is back: status, receipt (x-ptp-receipt) and
//             countersign too (record_sent_answered; one record per message), or before the
//             message leaves, its receipt then in a record of its own (record_sent: the
//             outbox's pushes)
//   receipt   msg, from (the receiver), status, receipt, countersign
//   received  msg, the message fields, sig, status, receipt
//   statement statement (a batch statement, trust/batch_statement.h): once per batch this
//             node signed with references, and once per other node's statement it verified;
//             what makes the references (v3 values) of the records above whole
// A receipt or countersign value longer than kMaxProofValueBytes (a peer's padding: one that
// verifies is shorter) is not recorded: `receipt_refused` (`countersign_refused`) holds its
// length ("70000 bytes") in its place.
#pragma once

#include <string_view>

#include "gateway/evidence/evidence_log.h"
#include "trust/message_evidence.h"

namespace ptp {

// Each returns EvidenceLog::append's answer (true without a log).
bool record_sent(EvidenceLog* log, const MessageFields& m, const Digest32& msg,
                 std::string_view sig);
bool record_sent_answered(EvidenceLog* log, const MessageFields& m, const Digest32& msg,
                          std::string_view sig, std::string_view status, std::string_view receipt,
                          std::string_view countersign);
bool record_receipt(EvidenceLog* log, const Digest32& msg, std::string_view from,
                    std::string_view status, std::string_view receipt,
                    std::string_view countersign);
bool record_received(EvidenceLog* log, const MessageFields& m, const Digest32& msg,
                     std::string_view sig, std::string_view status, std::string_view receipt);

bool record_statement(EvidenceLog* log, std::string_view statement);

// Whether a message that will need a record may be taken now: the log accepts records, or
// on_failure is continue. False: refuse it with E0000000700.
bool evidence_accepting(const EvidenceLog* log, const EvidenceConfig& cfg);

}  // namespace ptp
