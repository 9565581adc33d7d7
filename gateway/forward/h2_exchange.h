// One request forwarded over HTTP/2 (to a peer gateway, or a local HTTP/2 or gRPC
// service): the observer of its client stream, turning the answer into one Response.
// The stream owns it, so it holds everything the answer needs and builds error texts
// only when an error happens.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "codecs/encapsulated_codec.h"
#include "codecs/grpc_frame.h"
#include "gateway/exchange/exchange.h"
#include "gateway/upstream/h2_client_session.h"

namespace ptp {

class H2Exchange final : public UpstreamObserver {
 public:
  struct Params {
    std::string node;  // this gateway's node id: the hop of errors raised here
    std::string name;  // next hop's name (peer node id or "service <pattern>")
    bool grpc = false;
    bool streamed = false;
    uint64_t max_body = 0;
    std::chrono::milliseconds timeout{0};  // unary: the answer's deadline
    // HTTP to a v1.1.0 peer: the answer is an encapsulated Outbound.
    std::optional<EncapsulatedFormat> encapsulation;
    // Request::answer_before_trailers (plain HTTP/2, unary): answer once the body is
    // complete by its content-length; the trailers follow in Response::late.
    bool answer_before_trailers = false;
  };
  H2Exchange(Responder done, Params p) : done_(std::move(done)), p_(std::move(p)) {}

  // The stream carrying the exchange (which owns it): set before and after submit().
  void set_session(H2ClientSession* s) { session_ = s; }
  void set_stream_id(int32_t id) { id_ = id; }
  // Answers now, unless answered already (the responder runs exactly once).
  void answer(Response&& r);
  // Answers an error raised at this gateway.
  void answer_error(Code code, std::string message);
  // "<name> (<host:port>)", for messages.
  std::string where() const;

  void on_headers(int http_status, HeaderList headers) override;
  void on_data(std::string_view data) override;
  void on_close(HeaderList trailers, uint32_t error_code) override;
  void on_timeout() override;
  bool wants_header(std::string_view name) const override;
  void on_head_too_large(bool trailers, uint64_t limit) override;

 private:
  Status close_status(const HeaderList& trailers, uint32_t error_code) const;
  // Answers with a streamed Response fed by resp_.
  void start_stream();
  // A streamed gRPC answer's bytes: Outbound messages, the first one sending the head.
  void on_grpc_stream_data(std::string_view data);
  void answer_unary_grpc();
  // The unary HTTP answer from the head and body received (and the trailers' receipts).
  Response unary_http_response();
  // Answers now, before the trailers, when the body is complete by its content-length.
  void answer_if_body_complete();
  uint64_t answer_cap() const;  // bytes of a unary answer's DATA held at most

  Responder done_;
  Params p_;
  H2ClientSession* session_ = nullptr;
  int32_t id_ = 0;
  bool answered_ = false;
  int status_ = 0;
  HeaderList headers_;
  std::string data_;                // unary body, or partial gRPC frame bytes when streaming
  std::shared_ptr<BodyPipe> resp_;  // streamed answer, once its head went back
  std::unique_ptr<GrpcFrameParser> parser_;  // streamed gRPC answer
  std::optional<Status> refused_;            // why the answer was refused here (its end says it)
  std::optional<uint64_t> content_length_;   // answer_before_trailers: the answer's
  std::shared_ptr<LateTrailers> late_;       // ... and where its trailers go, once answered
};

}  // namespace ptp
