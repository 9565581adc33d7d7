#include "gateway/pipeline/evidence_stage.h"

#include <memory>

#include "common/unix_time.h"
#include "gateway/evidence/message_records.h"

namespace ptp {
namespace {

const std::string kSignatureKey(kSignatureHeader);
const std::string kStatementKey(kStatementHeader);

Status log_full(const Config& cfg) {
  return Status::Error(Code::kBufferFull, "the evidence log of node " + cfg.node_id +
                                              " cannot take records now (evidence.on_failure: "
                                              "refuse)");
}

}  // namespace

EvidenceStage::EvidenceStage(boost::asio::any_io_executor ex, JsonLog& log, EvidenceLog* records)
    : signing_(ex), log_(log), records_(records) {
  // Batch statements are recorded once each (this thread's own, and other nodes' it verified):
  // the sent and received records hold references into them.
  signing_.record_statements_in(records_);
}

void EvidenceStage::refused(const PtpHeader& h, Interface iface, const Status& st) {
  warn("message signature refused", h, st);
  uint64_t suppressed = 0;
  if (records_ && audit_throttle_.allow(suppressed))
    records_->append("audit", {{"event", "request_refused"},
                               {"source", h.source_node_id},
                               {"interface", interface_name(iface)},
                               {"uri", h.uri},
                               {"reason", "signature"},
                               {"error", st.message},
                               {"trace_id", h.trace_id},
                               {"suppressed", std::to_string(suppressed)}});
}

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

struct EvidenceStage::Outgoing {
  Request req;
  Responder answer;
  MessageFields m;
  Digest32 leaf;
  std::string sig = {};  // x-ptp-signature
  PtpHeader header = {};
};

void EvidenceStage::settle_sent(const ConfigPtr& cfg, const Outgoing& out, RootKeys& roots,
                                const HeaderList& receipt_headers, Code code) {
  std::string_view receipt = find_header(receipt_headers, kReceiptHeader);
  const std::string_view counter = find_header(receipt_headers, kCountersignHeader);
  std::string full_receipt;  // the receipt with a full proof, while its statement is not recorded
  if (!receipt.empty()) {
    Status st = signing_.verify_answer_receipt(
        *cfg, out.leaf, out.header.target_node_id, receipt, counter,
        [&](std::string_view node, std::string& error) { return roots.find(cfg, node, error); },
        find_header(receipt_headers, kReceiptStatementHeader), &full_receipt);
    if (!st.ok()) warn("receipt does not verify", out.header, st);
    if (!full_receipt.empty()) receipt = full_receipt;
  }
  record_sent_answered(records_, out.m, out.leaf, out.sig, code_string(code), receipt,
                       receipt.empty() ? std::string_view() : counter);
}

void EvidenceStage::send(const ConfigPtr& cfg, Request&& req, RootKeys& roots, Responder answer,
                         Send send, Refuse refuse) {
  if (!evidence_accepting(records_, cfg->evidence)) return refuse(req, log_full(*cfg));
  MessageFields m = message_fields(signing_.hasher(*cfg), req.env, req.iface, unix_now_ms());
  const Digest32 leaf = message_leaf(signing_.hasher(*cfg), m);
  const int64_t sent_ms = m.sent_ms;
  auto out =
      std::make_shared<Outgoing>(Outgoing{std::move(req), std::move(answer), std::move(m), leaf});
  auto signed_message = [this, cfg, out, roots = &roots, send = std::move(send),
                         refuse = std::move(refuse)](std::string value,
                                                     BatchSigner::Statement statement) {
    if (value.empty())
      return refuse(out->req,
                    Status::Error(Code::kSystemError,
                                  "node " + cfg->node_id + " cannot sign the message (node key)"));
    // The sent record waits for the answer (one record with the receipt); the check
    // above (evidence_accepting) is what refuses a message the log could not record.
    out->sig = value;
    out->req.env.meta[kSignatureKey] = std::move(value);
    if (statement) out->req.env.meta[kStatementKey] = *statement;
    out->header = out->req.env.header;
    // The client does not wait for the receipt unless it is to get it (or too many answers
    // wait for theirs already).
    out->req.answer_before_trailers = !cfg->evidence.receipt_to_client && pending_receipts_.room();
    send(std::move(out->req), [this, cfg, out, roots](Response&& r) {
      const Code code = r.env.status.code;
      if (r.late && find_header(r.extra_headers, kReceiptHeader).empty()) {
        // The answer came before its receipt (docs/evidence.md, "Receipts in trailers"):
        // it goes on now, the sent record when the trailers come.
        auto promise = records_ ? records_->promise_record() : nullptr;
        r.late->on_trailers([this, cfg, out, roots, code, promise,
                             pending = pending_receipts_.take()](HeaderList trailers) {
          settle_sent(cfg, *out, *roots, trailers, code);
        });
        r.late.reset();
        out->answer(std::move(r));
        return;
      }
      r.late.reset();
      settle_sent(cfg, *out, *roots, r.extra_headers, code);
      if (!cfg->evidence.receipt_to_client) drop_receipt_headers(r.extra_headers);
      out->answer(std::move(r));
    });
  };
  // A reference and the batch's statement under evidence.batch_statements, else a full proof.
  signing_.sign_message_referenced(*cfg, leaf, sent_ms, std::move(signed_message));
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
    refused(h, req.iface, st);
    return st;
  }
  MessageFields m = message_fields(signing_.hasher(*cfg), req.env, req.iface, 0);
  std::string error;
  const PublicKey* key = roots.find(cfg, h.source_node_id, error);
  Digest32 leaf{};
  auto statement = req.env.meta.find(kStatementKey);
  const std::string_view statement_value =
      statement == req.env.meta.end() ? std::string_view() : std::string_view(statement->second);
  std::string full_sig;  // the signature with a full proof, while its statement is not recorded
  if (Status st =
          signing_.verify_message(*cfg, m, it->second, key, leaf, statement_value, &full_sig);
      !st.ok()) {
    refused(h, req.iface, st);
    return st;
  }
  if (!evidence_accepting(records_, cfg->evidence)) return log_full(*cfg);
  // The signature is between the gateways: the service (or the inbox) does not get it.
  auto seen = std::make_shared<Received>(
      std::move(m), std::move(full_sig.empty() ? it->second : full_sig), awaiting_receipts_);
  req.env.meta.erase(it);
  if (statement != req.env.meta.end()) req.env.meta.erase(statement);
  const int64_t received = unix_now_ms();
  const bool http2 = req.wire == WireProtocol::kHttp2;
  answer = [this, cfg, leaf, received, seen, http2, answer = std::move(answer)](Response&& r) {
    const Code code = r.env.status.code;
    // The last message this thread waits on has its answer: its receipt batch is signed at
    // the end of this loop turn rather than when the window ends (no receipt would join).
    const bool last = seen->answered() == 0;
    if (http2 && r.env.status.ok() && !r.stream) {
      // Plain HTTP/2: the answer goes now with its length, the receipt follows in its
      // trailers (docs/evidence.md, "Receipts in trailers"), so the window is not on the
      // answer's path. The stream stays open until then.
      auto pipe = std::make_shared<BodyPipe>();
      r.extra_headers.emplace_back("content-length", std::to_string(r.env.body.size()));
      pipe->write(std::move(r.env.body));
      r.env.body.clear();
      r.stream = pipe;
      answer(std::move(r));
      signing_.sign_receipt_referenced(
          *cfg, leaf, received, code,
          [this, pipe, seen, leaf, code](std::string value, BatchSigner::Statement statement) {
            record_received(records_, seen->fields, leaf, seen->signature, code_string(code),
                            value);
            if (!value.empty()) pipe->add_trailer(kReceiptHeader, value);
            if (statement) pipe->add_trailer(kReceiptStatementHeader, *statement);
            pipe->finish();
          });
      if (last) signing_.signer().sign_soon();
      return;
    }
    auto held = std::make_shared<Response>(std::move(r));
    auto receipted = [this, held, answer, seen, leaf, code](std::string value,
                                                            BatchSigner::Statement statement) {
      record_received(records_, seen->fields, leaf, seen->signature, code_string(code), value);
      if (!value.empty()) held->extra_headers.emplace_back(kReceiptHeader, value);
      if (statement) held->extra_headers.emplace_back(kReceiptStatementHeader, *statement);
      answer(std::move(*held));
    };
    signing_.sign_receipt_referenced(*cfg, leaf, received, code, std::move(receipted));
    if (last) signing_.signer().sign_soon();
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
