#include "gateway/evidence/stream_signing.h"

#include <optional>
#include <string>
#include <utility>

#include "common/unix_time.h"
#include "gateway/evidence/message_records.h"

namespace ptp {
namespace {

const std::string kSignatureKey(kSignatureHeader);
const std::string kStatementKey(kStatementHeader);

// The fields of a stream's statement known at its head; size and digest follow at its end.
MessageFields head_fields(MessageSigning& signing, const Config& cfg, const Request& req) {
  return message_fields(signing.hasher(cfg), req.env, req.iface, 0);  // body: empty
}

void end_fields(MessageFields& m, const StreamRelay& relay) {
  m.body_size = relay.size();
  m.body_digest = digest_hex(relay.digest());
}

// The size and digest of the stream's gRPC messages (ptp-msg-v2); false when the relay did
// not digest them (the stream did not come as gRPC messages).
bool end_framed_fields(MessageFields& m, const StreamRelay& relay) {
  auto framed = relay.framed();
  if (!framed) return false;
  m.framing = std::string(kGrpcFraming);
  m.body_size = framed->first;
  m.body_digest = digest_hex(framed->second);
  return true;
}

// --- sender ------------------------------------------------------------------------------

struct SentStream {
  StreamEvidence ev;
  PtpHeader header;  // as sent, for the receipt's check and warnings
  MessageFields m;
  std::optional<Digest32> leaf;  // once signed
};

void on_sent_end(const std::shared_ptr<SentStream>& s, StreamRelay& relay, const Status& st) {
  if (!st.ok()) return relay.finish(st);  // the client's stream failed: so does this one
  const Config& cfg = *s->ev.cfg;
  if (!end_framed_fields(s->m, relay)) end_fields(s->m, relay);
  s->m.sent_ms = unix_now_ms();
  const Digest32 leaf = message_leaf(s->ev.signing->hasher(cfg), s->m);
  s->ev.signing->sign_message(
      cfg, leaf, s->m.sent_ms,
      [s, r = relay.shared_from_this(), leaf](std::string value) {
        const Config& cfg = *s->ev.cfg;
        if (value.empty())
          return r->finish(Status::Error(Code::kSystemError, "node " + cfg.node_id +
                                                                 " cannot sign the stream "
                                                                 "(node key)"));
        if (!record_sent(s->ev.records, s->m, leaf, value) &&
            cfg.evidence.on_failure == EvidenceOnFailure::kRefuse)
          return r->finish(evidence_log_full(cfg));
        s->leaf = leaf;
        r->add_trailer(kSignatureHeader, value);
        r->finish(Status::Ok());
      },
      !s->m.framing.empty());
}

// Checks the stream's receipt (and countersign), then records it as it came.
void take_receipt(const std::shared_ptr<SentStream>& s, std::string_view receipt,
                  std::string_view counter, Code code) {
  if (receipt.empty() || !s->leaf) return;
  const Config& cfg = *s->ev.cfg;
  const std::string& target = s->header.target_node_id;
  Status st =
      s->ev.signing->verify_answer_receipt(cfg, *s->leaf, target, receipt, counter, s->ev.key_of);
  if (!st.ok()) s->ev.warn("receipt does not verify", s->header, st);
  record_receipt(s->ev.records, *s->leaf, target, code_string(code), receipt, counter);
}

void on_sent_answer(const std::shared_ptr<SentStream>& s, Response& r) {
  const bool to_client = s->ev.cfg->evidence.receipt_to_client;
  const std::string_view receipt = find_header(r.extra_headers, kReceiptHeader);
  if (!receipt.empty()) {
    take_receipt(s, receipt, find_header(r.extra_headers, kCountersignHeader), r.env.status.code);
    if (!to_client) drop_receipt_headers(r.extra_headers);
    return;
  }
  if (!r.stream) return;
  // A streamed answer that began before the receiver checked the stream: the receipt comes
  // in its trailers, which pass on to the client (without the receipt unless
  // evidence.receipt_to_client).
  const Code code = r.env.status.code;
  auto relay = std::make_shared<StreamRelay>(
      std::move(r.stream), std::nullopt,
      [s, code, to_client](StreamRelay& rr, const Status& st) {
        const HeaderList& t = rr.in_trailers();
        take_receipt(s, find_header(t, kReceiptHeader), find_header(t, kCountersignHeader), code);
        for (const auto& [k, v] : t)
          if (to_client || !is_receipt_header(k)) rr.add_trailer(k, v);
        rr.finish(st);
      },
      nullptr);
  r.stream = relay->start();
}

// --- receiver ----------------------------------------------------------------------------

struct ReceivedStream {
  enum class State {
    kOpen,      // the stream runs: an answer waits for its check
    kVerified,  // signed and checked: answers get the receipt
    kRefused,   // answered E0000000615: the service's answer is dropped
    kPassed,    // not checked (unsigned while not required, or given up): answers pass
  };
  StreamEvidence ev;
  PtpHeader header;
  Interface iface = Interface::kTransport;
  MessageFields m;
  std::string header_sig;        // x-ptp-signature of the head (a body signed up front)
  std::string header_statement;  // its batch statement when it is a reference (v3)
  std::string sig;               // the value that verified
  Digest32 leaf{};
  int64_t received_ms = 0;
  State state = State::kOpen;
  Responder answer;              // the pipeline's: runs once
  bool answered = false;         // it ran
  std::optional<Response> held;  // the service's answer while kOpen
  // A streamed answer passed on before the check (a bidirectional service): its end
  // waits for the check, then carries the receipt in its trailers.
  bool early = false;
  Code early_code = Code::kOk;
  std::weak_ptr<StreamRelay> early_relay;
  bool early_ended = false;  // the service ended it
  Status early_status;       // how
  bool receipt_done = false;
  std::string receipt;
};

void call_answer(const std::shared_ptr<ReceivedStream>& s, Response&& r) {
  if (s->answered) {
    if (r.stream) r.stream->cancel();
    return;
  }
  s->answered = true;
  s->answer(std::move(r));
}

// Ends the early answer once both the service ended it and the check (and the receipt's
// signature) is done.
void settle_early(const std::shared_ptr<ReceivedStream>& s) {
  using State = ReceivedStream::State;
  auto relay = s->early_relay.lock();
  if (!relay || !s->early_ended) return;
  if (s->state == State::kOpen || s->state == State::kRefused) return;
  if (s->state == State::kVerified) {
    if (!s->receipt_done) return;
    if (!s->receipt.empty()) relay->add_trailer(kReceiptHeader, s->receipt);
  }
  relay->finish(s->early_status);
}

void answer_with_receipt(const std::shared_ptr<ReceivedStream>& s, Response&& r) {
  auto held = std::make_shared<Response>(std::move(r));
  const Code code = held->env.status.code;
  s->ev.signing->sign_receipt(
      *s->ev.cfg, s->leaf, s->received_ms, code, [s, held, code](std::string value) {
        record_received(s->ev.records, s->m, s->leaf, s->sig, code_string(code), value);
        if (!value.empty()) held->extra_headers.emplace_back(kReceiptHeader, value);
        call_answer(s, std::move(*held));
      });
}

// The check is done (state set): what waited for it goes on.
void after_check(const std::shared_ptr<ReceivedStream>& s) {
  using State = ReceivedStream::State;
  if (s->early && s->state == State::kVerified) {
    s->ev.signing->sign_receipt(
        *s->ev.cfg, s->leaf, s->received_ms, s->early_code, [s](std::string value) {
          record_received(s->ev.records, s->m, s->leaf, s->sig, code_string(s->early_code), value);
          s->receipt = std::move(value);
          s->receipt_done = true;
          settle_early(s);
        });
  }
  settle_early(s);
  if (!s->held) return;
  Response r = std::move(*s->held);
  s->held.reset();
  if (s->state == State::kVerified)
    answer_with_receipt(s, std::move(r));
  else
    call_answer(s, std::move(r));
}

void refuse_stream(const std::shared_ptr<ReceivedStream>& s, StreamRelay& relay, Status st) {
  s->ev.refused(s->header, s->iface, st);
  s->state = ReceivedStream::State::kRefused;
  relay.finish(st);  // the service's stream is reset: it never sees the end
  if (s->held) {
    if (s->held->stream) s->held->stream->cancel();
    s->held.reset();
  }
  if (!s->answered) return call_answer(s, error_response(std::move(st)));
  if (auto early = s->early_relay.lock()) early->finish(std::move(st));  // its end says it
}

void on_received_end(const std::shared_ptr<ReceivedStream>& s, StreamRelay& relay,
                     const Status& st) {
  using State = ReceivedStream::State;
  const Config& cfg = *s->ev.cfg;
  if (!st.ok()) {  // the client's stream failed: the service's is reset, nothing to check
    s->state = State::kPassed;
    relay.finish(st);
    return after_check(s);
  }
  const std::string_view value = s->header_sig.empty()
                                     ? find_header(relay.in_trailers(), kSignatureHeader)
                                     : std::string_view(s->header_sig);
  if (value.empty()) {
    if (!cfg.evidence.require_signature) {
      s->state = State::kPassed;
      relay.finish(Status::Ok());
      return after_check(s);
    }
    return refuse_stream(s, relay,
                         Status::Error(Code::kBadCertSignature,
                                       "the stream from node " + s->m.source_node +
                                           " carries no x-ptp-signature, in its head or its "
                                           "trailers (evidence.require_signature)"));
  }
  // "v2;": the sender signed the stream's gRPC messages, which only a stream that came
  // here as gRPC messages has (a hop that re-encoded it to HTTP/2 bytes lost them).
  if (value.starts_with("v2;")) {
    if (!end_framed_fields(s->m, relay))
      return refuse_stream(
          s, relay,
          Status::Error(Code::kBadCertSignature,
                        "x-ptp-signature of the stream from node " + s->m.source_node +
                            " signs its gRPC messages (v2), but it arrived here as HTTP/2 "
                            "bytes: its message boundaries cannot be checked"));
  } else {
    end_fields(s->m, relay);
  }
  std::string error;
  const PublicKey* key = s->ev.key_of(s->m.source_node, error);
  std::string full_sig;  // a full proof, while the header's statement is not recorded
  if (Status vs = s->ev.signing->verify_message(cfg, s->m, value, key, s->leaf, s->header_statement,
                                                &full_sig);
      !vs.ok())
    return refuse_stream(s, relay, std::move(vs));
  s->sig = full_sig.empty() ? std::string(value) : std::move(full_sig);
  s->received_ms = unix_now_ms();
  s->state = State::kVerified;
  relay.finish(Status::Ok());  // now the service sees the end
  after_check(s);
}

void on_received_answer(const std::shared_ptr<ReceivedStream>& s, Response&& r) {
  using State = ReceivedStream::State;
  switch (s->state) {
    case State::kOpen:
      if (r.stream && !s->answered) {
        // A streamed answer while the stream still runs (a bidirectional service): its
        // head goes back now, its end waits for the check.
        s->early = true;
        s->early_code = r.env.status.code;
        auto relay = std::make_shared<StreamRelay>(
            std::move(r.stream), std::nullopt,
            [s](StreamRelay&, const Status& st) {
              s->early_ended = true;
              s->early_status = st;
              settle_early(s);
            },
            nullptr);
        s->early_relay = relay;
        r.stream = relay->start();
        return call_answer(s, std::move(r));
      }
      s->held.emplace(std::move(r));  // wait for the check
      return;
    case State::kRefused:
      if (r.stream) r.stream->cancel();
      return;
    case State::kPassed:
      return call_answer(s, std::move(r));
    case State::kVerified:
      return answer_with_receipt(s, std::move(r));
  }
}

}  // namespace

Status evidence_log_full(const Config& cfg) {
  return Status::Error(Code::kBufferFull, "the evidence log of node " + cfg.node_id +
                                              " cannot take records now (evidence.on_failure: "
                                              "refuse)");
}

StreamRelay::StreamRelay(std::shared_ptr<BodyPipe> in, std::optional<DigestAlgorithm> alg,
                         Ended ended, Gone gone)
    : in_(std::move(in)), ended_(std::move(ended)), gone_(std::move(gone)) {
  if (alg) hasher_.emplace(*alg);
}

std::shared_ptr<BodyPipe> StreamRelay::start() {
  auto out = std::make_shared<BodyPipe>();
  out_ = out;
  out->keep_alive_with(shared_from_this());
  // `out` keeps this relay: its callbacks may use `this`; `in` does not.
  out->set_on_consumed([this](size_t) { pump(); });
  out->set_on_cancel([this] {
    in_->cancel();
    if (auto gone = std::exchange(gone_, nullptr)) gone();
  });
  std::weak_ptr<StreamRelay> weak = weak_from_this();
  in_->set_on_readable([weak] {
    if (auto self = weak.lock()) self->pump();
  });
  pump();
  return out;
}

void StreamRelay::pump() {
  if (pumping_) {  // writing to `out` may call back here
    again_ = true;
    return;
  }
  pumping_ = true;
  const auto keep = shared_from_this();  // callbacks below may drop the last other owner
  do {
    again_ = false;
    auto out = out_.lock();
    if (!out || out->cancelled() || out->finished()) break;
    std::string chunk;
    while (out->buffered() < kAhead && in_->read_chunk(chunk)) {
      if (hasher_) hasher_->update(chunk);
      if (framed_hasher_) {  // a chunk of a gRPC stream is one message (at most 4 GiB)
        framed_hasher_->update(grpc_framed_prefix(static_cast<uint32_t>(chunk.size())));
        framed_hasher_->update(chunk);
        framed_size_ += 5 + chunk.size();
      }
      size_ += chunk.size();
      out->write(std::move(chunk));
    }
    const bool failed = in_->finished() && !in_->status().ok();
    if (ended_ && (in_->drained() || failed)) {
      if (hasher_) digest_ = hasher_->finish();
      if (framed_hasher_) framed_digest_ = framed_hasher_->finish();
      auto ended = std::exchange(ended_, nullptr);
      ended(*this, in_->status());
    }
  } while (again_);
  pumping_ = false;
}

std::optional<std::pair<uint64_t, Digest32>> StreamRelay::framed() const {
  if (!framed_hasher_) return std::nullopt;
  return std::make_pair(framed_size_, framed_digest_);
}

void StreamRelay::add_trailer(std::string_view name, std::string_view value) {
  auto out = out_.lock();
  if (out && !out->finished()) out->add_trailer(name, value);
}

void StreamRelay::finish(Status st) {
  auto out = out_.lock();
  if (!out || out->finished()) return;
  out->finish(std::move(st));
}

void sign_stream(StreamEvidence ev, Request& req, Responder& answer, bool messages) {
  auto s = std::make_shared<SentStream>();
  const DigestAlgorithm alg = ev.cfg->crypto.digest;
  s->m = head_fields(*ev.signing, *ev.cfg, req);
  s->ev = std::move(ev);
  s->header = req.env.header;
  req.env.meta.erase(kSignatureKey);  // the stream's own goes in its trailers
  answer = [s, answer = std::move(answer)](Response&& r) {
    on_sent_answer(s, r);
    answer(std::move(r));
  };
  // One digest: of its messages (ptp-msg-v2) or of its bytes.
  auto relay = std::make_shared<StreamRelay>(
      std::move(req.stream), messages ? std::nullopt : std::optional(alg),
      [s](StreamRelay& r, const Status& st) { on_sent_end(s, r, st); }, nullptr);
  if (messages) relay->digest_messages(alg);
  req.stream = relay->start();
}

void check_stream(StreamEvidence ev, Request& req, Responder& answer) {
  auto s = std::make_shared<ReceivedStream>();
  const DigestAlgorithm alg = ev.cfg->crypto.digest;
  s->m = head_fields(*ev.signing, *ev.cfg, req);
  s->ev = std::move(ev);
  s->header = req.env.header;
  s->iface = req.iface;
  // The signature is between the gateways: the service does not get it.
  if (auto it = req.env.meta.find(kSignatureKey); it != req.env.meta.end()) {
    s->header_sig = std::move(it->second);
    req.env.meta.erase(it);
  }
  // A unary transport signed up front with a reference (v3) brings its batch statement;
  // nor does the service get that.
  if (auto st = req.env.meta.find(kStatementKey); st != req.env.meta.end()) {
    if (!s->header_sig.empty()) s->header_statement = std::move(st->second);
    req.env.meta.erase(st);
  }
  s->answer = std::move(answer);
  answer = [s](Response&& r) { on_received_answer(s, std::move(r)); };
  auto relay = std::make_shared<StreamRelay>(
      std::move(req.stream), alg,
      [s](StreamRelay& r, const Status& st) { on_received_end(s, r, st); },
      [s] {
        // The service gave the stream up before its end: its answer passes unchecked.
        if (s->state != ReceivedStream::State::kOpen) return;
        s->state = ReceivedStream::State::kPassed;
        after_check(s);
      });
  // A stream that came as gRPC messages: which statement the sender signed (its messages,
  // or its bytes when a hop before re-encoded it) shows only in the signature at its end.
  if (req.wire == WireProtocol::kGrpc) relay->digest_messages(alg);
  req.stream = relay->start();
}

void countersign_stream_answers(StreamEvidence ev, Responder& answer) {
  answer = [ev = std::move(ev), answer = std::move(answer)](Response&& r) {
    if (!r.stream || !find_header(r.extra_headers, kReceiptHeader).empty())
      return answer(std::move(r));
    auto relay = std::make_shared<StreamRelay>(
        std::move(r.stream), std::nullopt,
        [ev](StreamRelay& rr, const Status& st) {
          for (const auto& [k, v] : rr.in_trailers()) rr.add_trailer(k, v);
          const std::string_view receipt = find_header(rr.in_trailers(), kReceiptHeader);
          auto self = rr.shared_from_this();
          const bool taken = !receipt.empty() &&
                             ev.signing->countersign(
                                 *ev.cfg, receipt, unix_now_ms(), [self, st](std::string value) {
                                   if (!value.empty()) self->add_trailer(kCountersignHeader, value);
                                   self->finish(st);
                                 });
          if (!taken) rr.finish(st);
        },
        nullptr);
    r.stream = relay->start();
    answer(std::move(r));
  };
}

}  // namespace ptp
