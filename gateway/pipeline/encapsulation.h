// Encapsulation mode on the gateway (docs/encapsulation.md). A request whose x-ptp-version
// is absent or not "1" is encapsulated: over HTTP its body is an Inbound (JSON or protobuf
// by Content-Type) holding the header fields in its metadata and the payload; over gRPC the
// Inbound is the same in both modes. The answer to an encapsulated HTTP request is an
// Outbound in the request's serialization. Peers configured with `encapsulation` (v1.1.0
// transport modules) are sent requests in this form.
#pragma once

#include "codecs/encapsulated_codec.h"
#include "gateway/config/config_store.h"
#include "gateway/exchange/exchange.h"

namespace ptp {

// Server side: in front of the pipeline. Pass-through requests (x-ptp-version 1) and the
// container interfaces go on untouched; encapsulated ones are unwrapped into the same
// Request a pass-through request makes (x-ptp-version 1), and their answer is wrapped.
class EncapsulationGate final : public Dispatcher {
 public:
  EncapsulationGate(Dispatcher& inner, const ConfigStore& store) : inner_(inner), store_(store) {}
  void dispatch(Request&& req, Responder done) override;
  // Pass-through heads and the container interfaces are admitted by the pipeline; an
  // encapsulated head carries its header fields (token included) in the body, so it is
  // checked in dispatch() once the body is in, within the listener's body budgets.
  Status admit_head(Request& head) override;
  void reject(Request&& req, Status st, Responder done) override;

 private:
  Dispatcher& inner_;
  const ConfigStore& store_;  // this node's id, for errors raised here
};

}  // namespace ptp
