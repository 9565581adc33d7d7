#include "gateway/forward/h2_exchange.h"

#include <charconv>

#include "gateway/forward/encapsulated_body.h"
#include "gateway/forward/forwarder.h"
#include "gateway/http/grpc_messages.h"
#include "gateway/http/http_mapping.h"
#include "trust/batch_statement.h"
#include "trust/message_evidence.h"

namespace ptp {
namespace {

// The answer's trailers kept with it: a receiver's receipt and a router's countersign
// (docs/evidence.md, "Streams"), sent there by a receiver that answered before its check.
bool is_receipt_trailer(std::string_view name) {
  return name == kReceiptHeader || name == kCountersignHeader || name == kReceiptStatementHeader;
}

HeaderList receipt_trailers(HeaderList trailers) {
  trailers.erase_if([](const HeaderList::Field& f) { return !is_receipt_trailer(f.first); });
  return trailers;
}

}  // namespace

void H2Exchange::answer(Response&& r) {
  if (answered_) return;
  answered_ = true;
  done_(std::move(r));
}

void H2Exchange::answer_error(Code code, std::string message) {
  answer(error_response(Status::Error(code, std::move(message), p_.node)));
}

std::string H2Exchange::where() const {
  return p_.name + " (" + (session_ ? session_->authority() : std::string()) + ")";
}

bool H2Exchange::wants_header(std::string_view name) const {
  // What the answer is made of: relayed headers, the PTP status and gRPC's status.
  return is_relayed_header(name) || name == kPtpCodeHeader || name == kPtpMessageHeader ||
         name == kPtpHopHeader || name.starts_with("grpc-") ||
         (p_.answer_before_trailers && name == "content-length");
}

void H2Exchange::on_head_too_large(bool trailers, uint64_t limit) {
  refused_ = Status::Error(Code::kTooLarge,
                           std::string(trailers ? "answer trailers" : "answer headers") + " from " +
                               where() + " exceed " + std::to_string(limit) + " bytes",
                           p_.node);
}

void H2Exchange::on_headers(int status, HeaderList headers) {
  status_ = status;
  headers_ = std::move(headers);
  if (p_.answer_before_trailers && !p_.streamed && !p_.grpc && !p_.encapsulation) {
    // nghttp2 holds the DATA to this length (a stream error otherwise).
    const std::string_view cl = find_header(headers_, "content-length");
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), n);
    if (!cl.empty() && ec == std::errc() && end == cl.data() + cl.size()) content_length_ = n;
    answer_if_body_complete();  // an empty body
  }
  if (!p_.streamed) return;
  if (status != 200 || (p_.grpc && !find_header(headers_, "grpc-status").empty()))
    return;  // an error answer: reported when the stream closes
  if (!p_.grpc) {
    start_stream();
    return;
  }
  // gRPC: the head goes back with the first message, which may instead be the peer's
  // refusal (an Outbound with an error code, grpc-status 0).
  parser_ = std::make_unique<GrpcFrameParser>(p_.max_body + 5);
}

void H2Exchange::start_stream() {
  Response r;
  r.extra_headers = relayed_headers(headers_);
  resp_ = std::make_shared<BodyPipe>();
  std::weak_ptr<H2Connection> weak = session_->weak_from_this();
  const int32_t id = id_;
  const bool grpc = p_.grpc;
  resp_->set_on_consumed([weak, id, grpc](size_t n) {
    if (auto s = weak.lock()) static_cast<H2ClientSession&>(*s).consume(id, grpc ? n + 5 : n);
  });
  resp_->set_on_cancel([weak, id] {
    if (auto s = weak.lock()) static_cast<H2ClientSession&>(*s).reset(id);
  });
  r.stream = resp_;
  answer(std::move(r));
}

void H2Exchange::on_grpc_stream_data(std::string_view data) {
  if (answered_ && !resp_) return;  // refused already
  std::vector<std::string> msgs;
  Status ps = parser_->feed(data, msgs);
  bool peer_error = false;
  for (auto& m : msgs) {
    Response piece;
    if (ps.ok()) ps = parse_outbound_message(m, piece);
    if (!ps.ok()) break;
    if (!piece.env.status.ok()) {  // the peer ends the stream with an error
      ps = std::move(piece.env.status);
      peer_error = true;
      break;
    }
    if (!resp_) start_stream();
    resp_->write(std::move(piece.env.body));
  }
  if (ps.ok()) return;
  if (!peer_error || ps.hop.empty()) ps.hop = p_.node;
  if (resp_)
    resp_->finish(ps);
  else
    answer(error_response(std::move(ps)));
  session_->reset(id_);
}

void H2Exchange::on_data(std::string_view data) {
  if (parser_) return on_grpc_stream_data(data);
  if (resp_) {
    resp_->write(std::string(data));
    return;
  }
  session_->consume(id_, data.size());
  if (data_.size() + data.size() > answer_cap()) {
    session_->reset(id_);
    answer_error(Code::kTooLarge, "response from " + where() + " exceeds the body limit");
    return;
  }
  data_.append(data);
  if (content_length_) answer_if_body_complete();
}

void H2Exchange::answer_if_body_complete() {
  if (answered_ || !content_length_ || data_.size() != *content_length_) return;
  late_ = std::make_shared<LateTrailers>();
  Response r = unary_http_response();
  r.late = late_;
  answer(std::move(r));
}

Response H2Exchange::unary_http_response() {
  if (p_.encapsulation)
    return response_from_encapsulated_http(status_, std::move(headers_), std::move(data_), p_.name,
                                           session_->authority());
  return response_from_http(status_, std::move(headers_), std::move(data_), p_.name,
                            session_->authority());
}

void H2Exchange::on_timeout() {
  answer_error(Code::kTimeout, "no answer from " + where() + " within " +
                                   std::to_string(p_.timeout.count()) + " ms");
}

// The outcome carried by the stream's end (Ok when the answer itself says it).
Status H2Exchange::close_status(const HeaderList& trailers, uint32_t error_code) const {
  if (refused_) return *refused_;
  if (error_code != 0 && status_ == 0) {
    auto why = find_header(trailers, "x-ptp-connection-error");
    return Status::Error(
        Code::kUnreachable,
        "next hop " + where() + " " +
            (why.empty() ? "reset the stream (HTTP/2 error " + std::to_string(error_code) + ")"
                         : "connection lost: " + std::string(why)),
        p_.node);
  }
  if (p_.grpc) {
    if (status_ != 200)
      return Status::Error(Code::kIncompatible,
                           "HTTP " + std::to_string(status_) + " from gRPC peer " + where(),
                           p_.node);
    HeaderList all = headers_;  // trailers-only answers put status in headers
    for (const auto& t : trailers) all.push_back(t);
    return status_from_grpc_trailers(all, where());
  }
  if (error_code != 0)
    return Status::Error(Code::kUnreachable, "next hop " + where() + " reset the stream mid-body",
                         p_.node);
  return Status::Ok();
}

void H2Exchange::on_close(HeaderList trailers, uint32_t error_code) {
  if (late_) {  // answered before the trailers: they follow the answer
    late_->deliver(error_code == 0 ? receipt_trailers(std::move(trailers)) : HeaderList());
    return;
  }
  if (answered_ && !resp_) return;
  Status st = close_status(trailers, error_code);
  if (st.ok() && parser_ && !parser_->idle())
    st = Status::Error(Code::kCodecError, "gRPC answer from " + where() + " ends inside a message",
                       p_.node);
  if (resp_) {  // streaming: the head already went back
    // A signed stream's receipt (and countersign) may come in the answer's trailers.
    for (const auto& [k, v] : trailers)
      if (is_receipt_trailer(k)) resp_->add_trailer(k, v);
    resp_->finish(st);
    return;
  }
  if (!st.ok()) {
    answer(error_response(std::move(st)));
    return;
  }
  // A receiver that answered before it had checked the message (a streaming service
  // answering at once) sends its receipt in the trailers: part of this whole answer.
  for (const auto& [k, v] : trailers)
    if (is_receipt_trailer(k)) headers_.emplace_back(k, v);
  if (!p_.grpc) {
    answer(unary_http_response());
    return;
  }
  if (p_.streamed) {  // a gRPC stream that ended well without a message
    start_stream();
    resp_->finish();
    return;
  }
  answer_unary_grpc();
}

// A gRPC answer is one framed Outbound message: its payload is held to max_body (below),
// its other fields (code, message, metadata) get room of their own, so an answer of
// exactly max_body comes back as it would over plain HTTP/2.
uint64_t H2Exchange::answer_cap() const {
  constexpr uint64_t kGrpcFrame = 5;
  constexpr uint64_t kOutboundFields = 64 << 10;
  return p_.max_body + kGrpcFrame + (p_.grpc ? kOutboundFields : 0);
}

void H2Exchange::answer_unary_grpc() {
  GrpcFrameParser parser(answer_cap());
  std::vector<std::string> msgs;
  Status ps = parser.feed(data_, msgs);
  Response r;
  if (ps.ok() && msgs.size() != 1)
    ps =
        Status::Error(Code::kCodecError, "gRPC answer from " + where() + " carries " +
                                             std::to_string(msgs.size()) + " messages, expected 1");
  if (ps.ok()) ps = parse_outbound_message(msgs[0], r);
  if (ps.ok() && r.env.body.size() > p_.max_body)
    ps = Status::Error(Code::kTooLarge, "response from " + where() + " exceeds the body limit");
  if (!ps.ok()) {
    ps.hop = p_.node;
    answer(error_response(std::move(ps)));
    return;
  }
  for (const auto& x : relayed_headers(std::move(headers_))) r.extra_headers.push_back(x);
  answer(std::move(r));
}

}  // namespace ptp
