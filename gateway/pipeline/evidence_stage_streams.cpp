// The evidence stage's part for streamed transports: gateway/evidence/stream_signing.h
// with this thread's signing, evidence log, pinned roots and throttled warnings.
#include "gateway/evidence/message_records.h"
#include "gateway/pipeline/evidence_stage.h"

namespace ptp {
namespace {

// Ok, or E0000000700 while the evidence log takes no records and on_failure is refuse.
Status accepting(const EvidenceLog* records, const Config& cfg) {
  return evidence_accepting(records, cfg.evidence) ? Status::Ok() : evidence_log_full(cfg);
}

}  // namespace

StreamEvidence EvidenceStage::stream_evidence(const ConfigPtr& cfg, RootKeys& roots) {
  StreamEvidence ev;
  ev.cfg = cfg;
  ev.signing = &signing_;
  ev.records = records_;
  ev.key_of = [cfg, roots = &roots](std::string_view node, std::string& error) {
    return roots->find(cfg, node, error);
  };
  ev.warn = [this](std::string_view what, const PtpHeader& h, const Status& st) {
    warn(what, h, st);
  };
  ev.refused = [this](const PtpHeader& h, Interface iface, const Status& st) {
    refused(h, iface, st);
  };
  return ev;
}

Status EvidenceStage::send_stream(const ConfigPtr& cfg, Request& req, RootKeys& roots,
                                  Responder& answer, bool messages) {
  Status st = accepting(records_, *cfg);
  if (st.ok()) sign_stream(stream_evidence(cfg, roots), req, answer, messages);
  return st;
}

Status EvidenceStage::receive_stream(const ConfigPtr& cfg, Request& req, RootKeys& roots,
                                     Responder& answer) {
  Status st = accepting(records_, *cfg);
  if (st.ok()) check_stream(stream_evidence(cfg, roots), req, answer);
  return st;
}

void EvidenceStage::countersign_stream_answers(const ConfigPtr& cfg, Responder& answer) {
  StreamEvidence ev;
  ev.cfg = cfg;
  ev.signing = &signing_;
  ptp::countersign_stream_answers(std::move(ev), answer);
}

}  // namespace ptp
