// One message's proof for a third party (docs/evidence.md, "Proofs"): what `ptpctl evidence
// export` writes and `ptpctl evidence check-proof` checks offline with nothing but the
// nodes' root certificates. A proof holds the message fields (the sender's sent record),
// its leaf, the sender's signature (x-ptp-signature value), the receiver's receipt and a
// router's countersign when there is one; each is checked against the root of the node
// that signed it, found among the given roots by the node id it names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "trust/certificate.h"
#include "trust/digest.h"
#include "trust/message_evidence.h"

namespace ptp {

struct MessageProof {
  DigestAlgorithm digest = DigestAlgorithm::kSha256;
  std::vector<std::pair<std::string, std::string>> message;  // MessageFields::to_fields()
  std::string msg;                                           // hex of the message leaf
  std::string signature;                                     // x-ptp-signature value
  std::string receipt;                                       // x-ptp-receipt value ("" none)
  std::string countersign;                                   // x-ptp-countersign ("" none)
};

struct ProofCheck {
  bool ok() const { return failed.empty(); }
  // The part that failed: "message", "signature", "receipt", "countersign", "roots"; and why.
  std::string failed;
  std::string error;
  // What the proof shows, when ok.
  std::string source, target, router;
  int64_t sent_ms = 0, received_ms = 0, countersigned_ms = 0;
  std::string status;  // the receiver's PTP status in its receipt
};

// Checks every part of `p` against `roots` (each a node root: self-signed CA naming its
// node). Stops at the first failed part.
ProofCheck check_message_proof(const MessageProof& p, const std::vector<Certificate>& roots);

}  // namespace ptp
