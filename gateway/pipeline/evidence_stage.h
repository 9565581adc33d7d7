// The message evidence of one I/O thread's pipeline (docs/evidence.md, "Signatures and
// receipts"), used only with an evidence section:
//  - send: this node's own message to another node gets x-ptp-signature (batched); the
//    answer's x-ptp-receipt (and x-ptp-countersign) are checked and kept.
//  - receive: another node's message to this node is checked against x-ptp-signature with
//    the source's pinned root (E0000000615 on failure, or when missing and
//    evidence.require_signature); the answer gets this node's x-ptp-receipt (an answer
//    over plain HTTP/2 goes at once and the receipt follows in its trailers).
//  - countersign_answers: a router's answers coming back on a route with countersign get
//    its x-ptp-countersign over their receipt.
// Each message is recorded in the evidence log (gateway/evidence/message_records.h); when
// the log cannot take records and evidence.on_failure is refuse, messages are refused with
// E0000000700. Not thread-safe: one per pipeline.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <utility>

#include "gateway/config/config.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/evidence/message_signing.h"
#include "gateway/evidence/pending_receipts.h"
#include "gateway/evidence/root_keys.h"
#include "gateway/evidence/stream_signing.h"
#include "gateway/exchange/exchange.h"
#include "gateway/observability/json_log.h"

namespace ptp {

class EvidenceStage {
 public:
  using Send = std::function<void(Request&&, Responder)>;
  using Refuse = std::function<void(Request&, Status)>;

  // `records` (may be null) is the evidence log the messages are recorded in.
  EvidenceStage(boost::asio::any_io_executor ex, JsonLog& log, EvidenceLog* records);

  void send(const ConfigPtr& cfg, Request&& req, RootKeys& roots, Responder answer, Send send,
            Refuse refuse);
  Status receive(const ConfigPtr& cfg, Request& req, RootKeys& roots, Responder& answer);
  void countersign_answers(const ConfigPtr& cfg, Responder& answer);

  MessageSigning& signing() { return signing_; }

  // Streamed transports (gateway/evidence/stream_signing.h, evidence_stage_streams.cpp):
  // this node's own stream to another node is signed in its trailers; another node's
  // stream to this node is checked before its end reaches the service. Not Ok: refuse it
  // (E0000000700, the evidence log takes no records now).
  // `messages`: sign_stream's (the stream's gRPC messages go on as such).
  Status send_stream(const ConfigPtr& cfg, Request& req, RootKeys& roots, Responder& answer,
                     bool messages);
  Status receive_stream(const ConfigPtr& cfg, Request& req, RootKeys& roots, Responder& answer);
  // Router: countersign_answers for receipts that come in a streamed answer's trailers.
  void countersign_stream_answers(const ConfigPtr& cfg, Responder& answer);

 private:
  StreamEvidence stream_evidence(const ConfigPtr& cfg, RootKeys& roots);
  // A message this node sent, until its answer's receipt is checked and recorded.
  struct Outgoing;
  // Checks the receipt (and countersign) among `receipt_headers` and writes the message's
  // sent record with them.
  void settle_sent(const ConfigPtr& cfg, const Outgoing& out, RootKeys& roots,
                   const HeaderList& receipt_headers, Code code);
  void warn(std::string_view what, const PtpHeader& h, const Status& st);
  // A message refused with 615: the warning and a request_refused audit record (each at
  // most once a second, the audit record counting the ones it stands for).
  void refused(const PtpHeader& h, Interface iface, const Status& st);

  // A message received and checked, until its answer gets the receipt: counted in
  // *awaiting while it waits (also when its answer is dropped unanswered; the count is
  // shared so that an answer outliving the stage is harmless).
  class Received {
   public:
    Received(MessageFields m, std::string sig, std::shared_ptr<size_t> awaiting)
        : fields(std::move(m)), signature(std::move(sig)), awaiting_(std::move(awaiting)) {
      ++*awaiting_;
    }
    ~Received() { answered(); }
    Received(const Received&) = delete;
    Received& operator=(const Received&) = delete;
    // Stops counting this message; the number of messages still waiting.
    size_t answered() {
      if (waiting_) {
        waiting_ = false;
        --*awaiting_;
      }
      return *awaiting_;
    }

    MessageFields fields;
    std::string signature;

   private:
    std::shared_ptr<size_t> awaiting_;
    bool waiting_ = true;
  };

  // Answers of this thread waiting for their receipts' trailers, bounded (4096, ~8 MB).
  static constexpr size_t kMaxPendingReceipts = 4096;

  MessageSigning signing_;
  PendingReceipts pending_receipts_{kMaxPendingReceipts};
  // Messages received on this thread whose answers have no receipt yet.
  std::shared_ptr<size_t> awaiting_receipts_ = std::make_shared<size_t>(0);
  JsonLog& log_;
  EvidenceLog* records_;
  LogThrottle throttle_;        // 615 refusals and bad receipts: at most a line a second
  LogThrottle audit_throttle_;  // request_refused audit records of 615 refusals
};

}  // namespace ptp
