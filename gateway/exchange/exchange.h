// What a listener hands to the pipeline and what comes back. Listeners (HTTP/1.1,
// HTTP/2, gRPC) decode into a Request; the Dispatcher answers with a Response.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "codecs/envelope.h"
#include "codecs/header_list.h"
#include "codecs/interface.h"
#include "gateway/exchange/body_pipe.h"
#include "gateway/exchange/grpc_errors.h"

namespace ptp {

// Tells a sink whether its response reached the client: settle(true) once the listener
// has handed the whole response to the connection; a receipt destroyed unsettled (the
// client went away, the stream was reset) settles false. Pop uses it to acknowledge or
// return a leased message.
class DeliveryReceipt {
 public:
  explicit DeliveryReceipt(std::function<void(bool delivered)> fn) : fn_(std::move(fn)) {}
  DeliveryReceipt(const DeliveryReceipt&) = delete;
  DeliveryReceipt& operator=(const DeliveryReceipt&) = delete;
  ~DeliveryReceipt() { settle(false); }
  void settle(bool delivered) {
    if (auto fn = std::exchange(fn_, nullptr)) fn(delivered);
  }

 private:
  std::function<void(bool)> fn_;
};

// The trailers of an answer that was handed on before they came (docs/evidence.md,
// "Receipts in trailers"): the sender of a signed message answers its client once the
// answer's body is complete, and the receiver's receipt follows in the answer's trailers.
// The forwarder delivers them once, when the stream ends (an empty list when it ended
// without them: reset, timeout, connection lost). Single-threaded (the answer's I/O thread).
class LateTrailers {
 public:
  using Handler = std::function<void(HeaderList trailers)>;
  LateTrailers() = default;
  LateTrailers(const LateTrailers&) = delete;
  LateTrailers& operator=(const LateTrailers&) = delete;

  // Runs `h` with the trailers, now if they came already.
  void on_trailers(Handler h) {
    if (!delivered_) {
      handler_ = std::move(h);
      return;
    }
    h(std::move(held_));
  }
  // Only the first call counts.
  void deliver(HeaderList trailers) {
    if (std::exchange(delivered_, true)) return;
    if (auto h = std::exchange(handler_, nullptr))
      h(std::move(trailers));
    else
      held_ = std::move(trailers);
  }

 private:
  Handler handler_;
  HeaderList held_;
  bool delivered_ = false;
};

struct Request {
  Interface iface = Interface::kInvoke;
  WireProtocol wire = WireProtocol::kHttp1;
  Envelope env;                      // header, metadata and (unary) body
  std::shared_ptr<BodyPipe> stream;  // set for streamed bodies; env.body is then empty
  std::string remote;                // client address, for logs
  // The node whose TLS client certificate this connection presented, verified against
  // that node's pinned root (empty: no such certificate; docs/peering.md).
  std::string hop_node_id;
  std::string query;  // the URL query string (HTTP), without '?'
  // Set by the sender's evidence stage: the forwarder may answer as soon as the answer's
  // body is complete (its content-length) and deliver the trailers later (Response::late).
  bool answer_before_trailers = false;
  // Set by Dispatcher::admit_head when the head passed: the dispatcher's own record of
  // that admission, which dispatch() continues from (opaque to listeners).
  std::shared_ptr<void> admitted;
};

struct Response {
  Envelope env;                      // env.status is the outcome; env.body the unary body
  HeaderList extra_headers;          // additional response headers (e.g. diag echo)
  std::shared_ptr<BodyPipe> stream;  // set for streamed bodies
  // gRPC only: the reply message to frame instead of an Outbound built from env (the
  // queue interfaces answer TransportOutbound in the caller's dialect).
  std::optional<std::string> grpc_message;
  std::shared_ptr<DeliveryReceipt> delivery;  // settled by the listener, see above
  // gRPC only: how an error (or a stream's failed end) is answered; unset: the listener's
  // setting.
  std::optional<GrpcErrors> grpc_errors;
  // HTTP only: the status line when it is not the one the PTP code maps to (0: mapped).
  int http_status = 0;
  // Set when the answer was handed on before its trailers (Request::answer_before_trailers).
  std::shared_ptr<LateTrailers> late;
};

// The content type of a response's body: a relayed response carries the service's in
// extra_headers (header names are lower case there); one built here may set env's.
inline std::string response_content_type(const Response& r) {
  for (const auto& [k, v] : r.extra_headers)
    if (k == "content-type") return std::string(v);
  return r.env.content_type;
}

// Takes the response by rvalue: a hop that passes it on moves nothing.
using Responder = std::function<void(Response&&)>;

// A Response that carries only an error status.
inline Response error_response(Status s) {
  Response r;
  r.env.status = std::move(s);
  return r;
}

// The pipeline entry point. dispatch() is called on the connection's I/O thread and
// must not block; the responder is called exactly once, on the same thread.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  virtual void dispatch(Request&& req, Responder done) = 0;
  // Admission on the head alone (PTP header fields, interface, wire), before any of the
  // body is read: the checks dispatch() makes that need no body (token, loop and hop
  // limit, route). Ok: read the body, then dispatch(req), which then skips them. Not Ok:
  // the request is refused; answer it with reject() and read none of its body. Pure, so
  // that a dispatcher in front of another (a wrapper) decides what to pass on: one that
  // answered Ok for everything would let bodies in unchecked.
  virtual Status admit_head(Request& head) = 0;
  // Answers a request refused before dispatch() (by admit_head or by the listener:
  // malformed, too large, over a budget) the way dispatch() answers a refusal: counted,
  // logged and shaped for the caller's wire. `done` runs before reject() returns.
  virtual void reject(Request&& req, Status st, Responder done) = 0;
};

}  // namespace ptp
