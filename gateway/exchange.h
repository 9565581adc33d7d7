// What a listener hands to the pipeline and what comes back. Listeners (HTTP/1.1,
// HTTP/2, gRPC) decode into a Request; the Dispatcher answers with a Response.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "codecs/envelope.h"
#include "codecs/interface.h"
#include "gateway/body_pipe.h"

namespace ptp {

struct Request {
  Interface iface = Interface::kInvoke;
  WireProtocol wire = WireProtocol::kHttp1;
  Envelope env;                      // header, metadata and (unary) body
  std::shared_ptr<BodyPipe> stream;  // set for streamed bodies; env.body is then empty
  std::string remote;                // client address, for logs
};

struct Response {
  Envelope env;                      // env.status is the outcome; env.body the unary body
  HeaderList extra_headers;          // additional response headers (e.g. diag echo)
  std::shared_ptr<BodyPipe> stream;  // set for streamed bodies
};

using Responder = std::function<void(Response)>;

// The pipeline entry point. dispatch() is called on the connection's I/O thread and
// must not block; the responder is called exactly once, on the same thread.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  virtual void dispatch(Request req, Responder done) = 0;
};

// A Response that carries only an error status.
inline Response error_response(Status s) {
  Response r;
  r.env.status = std::move(s);
  return r;
}

}  // namespace ptp
