// Signed streams (docs/evidence.md, "Streams"): a streamed transport's body is digested
// while it passes the gateway, and its statement (the message statement of
// trust/message_evidence.h, with the size and digest of the whole stream) is signed or
// checked when the stream ends.
//  - sender (sign_stream): this node's own stream to another node is passed on as it
//    arrives; once the client's stream ended, its statement joins the thread's batch and
//    the x-ptp-signature goes out in the request's HTTP/2 trailers (the `sent` record is
//    written first); the answer's x-ptp-receipt (in its headers, or its trailers) is
//    checked and kept (`receipt` record).
//  - receiver (check_stream): another node's stream to a local service is passed on as it
//    arrives, but its end (END_STREAM) reaches the service only once the signature (the
//    trailer, or the x-ptp-signature header of a sender that signed the whole body up
//    front) verified. A bad signature, or none under evidence.require_signature, resets the
//    stream to the service and answers E0000000615. The receipt (`received` record) goes
//    in the answer's headers when the service answers after the stream's end; a streamed
//    answer that begins before it (a bidirectional service) goes back at once and its end
//    waits for the check: the receipt in its trailers, or E0000000615 ending it.
// The stream digest is H(the body bytes in order), as for a unary body: the same for any
// split into DATA frames or gRPC messages (ptp-msg-v1). A gRPC client's stream that the
// sender passes on to a gRPC next hop, message for message, is signed with its message
// boundaries instead (ptp-msg-v2, "v2;" signature): the digest is over its messages framed
// as gRPC frames them, which a receiver that gets the stream over gRPC recomputes. Everything
// runs on the stream's I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "gateway/config/config.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/evidence/message_signing.h"
#include "gateway/exchange/exchange.h"
#include "trust/digest.h"

namespace ptp {

// Passes the chunks of `in` on to the pipe start() returns, unchanged and in order,
// digesting them (unless told not to), and holds that pipe's end until finish(). At most
// kAhead bytes wait in the returned pipe beyond what its consumer took: flow control stays
// end to end.
class StreamRelay : public std::enable_shared_from_this<StreamRelay> {
 public:
  static constexpr size_t kAhead = 64 << 10;
  // Once `in` ended (its status); the callee ends the relay with finish(), now or later.
  using Ended = std::function<void(StreamRelay&, const Status& in_status)>;
  // The consumer gave the relayed pipe up before its end (it cancelled it).
  using Gone = std::function<void()>;

  // `alg` empty: no digest (an answer relayed only to hold its end).
  StreamRelay(std::shared_ptr<BodyPipe> in, std::optional<DigestAlgorithm> alg, Ended ended,
              Gone gone);
  // The pipe to hand on instead of `in` (it keeps the relay alive). Called once.
  std::shared_ptr<BodyPipe> start();
  // Also digests the chunks as gRPC messages (each after its grpc_framed_prefix): a chunk
  // of a gRPC stream is one message. Before start().
  void digest_messages(DigestAlgorithm alg) { framed_hasher_.emplace(alg); }
  // A trailer of the relayed pipe, sent after its last chunk: before finish().
  void add_trailer(std::string_view name, std::string_view value);
  // Ends the relayed pipe with `st` (not Ok: its consumer resets the stream, or ends a gRPC
  // stream with that status). Once; later calls do nothing.
  void finish(Status st);

  uint64_t size() const { return size_; }             // bytes passed on so far
  const Digest32& digest() const { return digest_; }  // of all of them, once ended
  // Of the messages framed (digest_messages), once ended; nullopt when not digested so.
  std::optional<std::pair<uint64_t, Digest32>> framed() const;
  const HeaderList& in_trailers() const { return in_->trailers(); }

 private:
  void pump();

  std::shared_ptr<BodyPipe> in_;
  std::weak_ptr<BodyPipe> out_;
  std::optional<Hasher> hasher_;
  std::optional<Hasher> framed_hasher_;
  uint64_t framed_size_ = 0;
  Digest32 framed_digest_{};
  Ended ended_;
  Gone gone_;
  uint64_t size_ = 0;
  Digest32 digest_{};
  bool pumping_ = false;
  bool again_ = false;
};

// What the stream code needs of the thread's evidence stage.
struct StreamEvidence {
  ConfigPtr cfg;
  MessageSigning* signing = nullptr;
  EvidenceLog* records = nullptr;  // may be null
  // The pinned root key of `node` (null, error set, when there is none).
  std::function<const PublicKey*(std::string_view node, std::string& error)> key_of;
  // A throttled warning (a receipt that does not verify).
  std::function<void(std::string_view what, const PtpHeader&, const Status&)> warn;
  // A message refused with E0000000615: the warning and the audit record.
  std::function<void(const PtpHeader&, Interface, const Status&)> refused;
};

// E0000000700: the evidence log of this node takes no records now (on_failure: refuse).
Status evidence_log_full(const Config& cfg);

// Sender: replaces req.stream by the signed stream and wraps `answer` to check and record
// the receipt. The caller checked that the evidence log takes records. `messages`: the
// stream is a gRPC client's that goes on to a gRPC next hop (each message as one): its
// message boundaries are signed (ptp-msg-v2).
void sign_stream(StreamEvidence ev, Request& req, Responder& answer, bool messages);
// Receiver: replaces req.stream by the checked stream and wraps `answer`, which then runs
// once the stream verified (with the receipt) or failed (E0000000615).
void check_stream(StreamEvidence ev, Request& req, Responder& answer);
// Router on a countersigning route: a streamed answer whose receipt comes in its trailers
// gets this router's x-ptp-countersign trailer after it (a receipt in the headers is
// MessageSigning's, through the evidence stage's countersign_answers). Only cfg and
// signing of `ev` are used.
void countersign_stream_answers(StreamEvidence ev, Responder& answer);

}  // namespace ptp
