#include "gateway/pipeline/evidence_stage.h"

#include <memory>

#include "common/unix_time.h"

namespace ptp {
namespace {

const std::string kSignatureKey(kSignatureHeader);

}  // namespace

void EvidenceStage::warn(std::string_view what, const PtpHeader& h, const Status& st) {
  uint64_t suppressed = 0;
  if (!log_.enabled(LogLevel::kWarn) || !throttle_.allow(suppressed)) return;
  LogFields lf{.trace_id = h.trace_id,
               .session_id = h.session_id,
               .source = h.source_node_id,
               .target = h.target_node_id};
  lf.code = st.code;
  lf.extra = {{"error", st.message}, {"suppressed", std::to_string(suppressed)}};
  log_.warn(std::string(what), lf);
}

void EvidenceStage::send(const ConfigPtr& cfg, Request&& req, RootKeys& roots, Responder answer,
                         Send send, Refuse refuse) {
  struct Outgoing {
    Request req;
    Responder answer;
    Digest32 leaf;
  };
  const MessageFields m = message_fields(signing_.hasher(*cfg), req.env, req.iface, unix_now_ms());
  auto out = std::make_shared<Outgoing>(
      Outgoing{std::move(req), std::move(answer), message_leaf(signing_.hasher(*cfg), m)});
  signing_.sign_message(
      *cfg, out->leaf, m.sent_ms,
      [this, cfg, out, roots = &roots, send = std::move(send),
       refuse = std::move(refuse)](std::string value) {
        if (value.empty())
          return refuse(out->req, Status::Error(Code::kSystemError,
                                                "node " + cfg->node_id +
                                                    " cannot sign the message (node key)"));
        out->req.env.meta[kSignatureKey] = std::move(value);
        const PtpHeader header = out->req.env.header;
        send(std::move(out->req), [this, cfg, out, roots, header](Response&& r) {
          const std::string_view receipt = find_header(r.extra_headers, kReceiptHeader);
          if (!receipt.empty()) {
            std::string error;
            const PublicKey* key = roots->find(cfg, header.target_node_id, error);
            if (Status st =
                    signing_.verify_receipt(*cfg, out->leaf, header.target_node_id, receipt, key);
                !st.ok())
              warn("receipt does not verify", header, st);
          }
          out->answer(std::move(r));
        });
      });
}

Status EvidenceStage::receive(const ConfigPtr& cfg, Request& req, RootKeys& roots,
                              Responder& answer) {
  const PtpHeader& h = req.env.header;
  auto it = req.env.meta.find(kSignatureKey);
  if (it == req.env.meta.end()) {
    if (!cfg->evidence.require_signature) return Status::Ok();
    Status st = Status::Error(Code::kBadCertSignature,
                              "the message from node " + h.source_node_id +
                                  " carries no x-ptp-signature (evidence.require_signature)");
    warn("message signature refused", h, st);
    return st;
  }
  MessageFields m = message_fields(signing_.hasher(*cfg), req.env, req.iface, 0);
  std::string error;
  const PublicKey* key = roots.find(cfg, h.source_node_id, error);
  Digest32 leaf{};
  if (Status st = signing_.verify_message(*cfg, m, it->second, key, leaf); !st.ok()) {
    warn("message signature refused", h, st);
    return st;
  }
  // The signature is between the gateways: the service (or the inbox) does not get it.
  req.env.meta.erase(it);
  const int64_t received = unix_now_ms();
  answer = [this, cfg, leaf, received, answer = std::move(answer)](Response&& r) {
    auto held = std::make_shared<Response>(std::move(r));
    signing_.sign_receipt(*cfg, leaf, received, held->env.status.code,
                          [held, answer](std::string value) {
                            if (!value.empty())
                              held->extra_headers.emplace_back(kReceiptHeader, value);
                            answer(std::move(*held));
                          });
  };
  return Status::Ok();
}

void EvidenceStage::countersign_answers(const ConfigPtr& cfg, Responder& answer) {
  answer = [this, cfg, answer = std::move(answer)](Response&& r) {
    const std::string receipt(find_header(r.extra_headers, kReceiptHeader));
    if (receipt.empty()) return answer(std::move(r));
    auto held = std::make_shared<Response>(std::move(r));
    const bool taken =
        signing_.countersign(*cfg, receipt, unix_now_ms(), [held, answer](std::string value) {
          if (!value.empty()) held->extra_headers.emplace_back(kCountersignHeader, value);
          answer(std::move(*held));
        });
    if (!taken) answer(std::move(*held));
  };
}

}  // namespace ptp
