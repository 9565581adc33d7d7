#include "gateway/pipeline/encapsulation.h"

#include "gateway/forward/encapsulated_body.h"
#include "gateway/pipeline/pipeline.h"

namespace ptp {
namespace {

constexpr std::string_view kPassThrough = "1";

Status bad_request(std::string msg) { return Status::Error(Code::kBadRequest, std::move(msg)); }

}  // namespace

void EncapsulationGate::dispatch(Request&& req, Responder done) {
  // The container interfaces carry no version; gRPC's Inbound is the same in both modes.
  if (req.env.header.version == kPassThrough || is_queue_interface(req.iface) ||
      is_peering_interface(req.iface))
    return inner_.dispatch(std::move(req), std::move(done));
  if (req.wire == WireProtocol::kGrpc) {
    req.env.header.version = std::string(kPassThrough);
    return inner_.dispatch(std::move(req), std::move(done));
  }
  auto refuse = [&](Status st) {
    st.hop = store_.current()->node_id;
    if (req.stream) req.stream->cancel();
    done(error_response(std::move(st)));
  };
  const std::string version_note =
      req.env.header.version.empty()
          ? std::string("without x-ptp-version")
          : "with x-ptp-version '" + req.env.header.version.substr(0, 16) + "' (not 1)";
  if (req.stream)
    return refuse(bad_request("a transport stream " + version_note +
                              " would be encapsulated, which only unary invoke supports; send "
                              "streams with x-ptp-version: 1"));
  const auto format = encapsulated_format(req.env.content_type);
  if (!format)
    return refuse(
        bad_request("a request " + version_note +
                    " is encapsulated: its body must be an Inbound sent as application/json or "
                    "application/x-protobuf (content-type '" +
                    req.env.content_type.substr(0, 64) + "')"));
  if (Status st = decapsulate(*format, req.env); !st.ok()) {
    st.hop = store_.current()->node_id;
    done(encapsulate_response(error_response(std::move(st)), *format));
    return;
  }
  inner_.dispatch(std::move(req), [done = std::move(done), f = *format](Response&& r) {
    done(encapsulate_response(std::move(r), f));
  });
}

Status EncapsulationGate::admit_head(Request& head) {
  if (head.env.header.version == kPassThrough || is_queue_interface(head.iface) ||
      is_peering_interface(head.iface))
    return inner_.admit_head(head);
  return Status::Ok();
}

void EncapsulationGate::reject(Request&& req, Status st, Responder done) {
  const bool encapsulated = req.env.header.version != kPassThrough &&
                            !is_queue_interface(req.iface) && !is_peering_interface(req.iface) &&
                            req.wire != WireProtocol::kGrpc;
  const auto format = encapsulated ? encapsulated_format(req.env.content_type) : std::nullopt;
  if (!format) return inner_.reject(std::move(req), std::move(st), std::move(done));
  inner_.reject(std::move(req), std::move(st), [done = std::move(done), f = *format](Response&& r) {
    done(encapsulate_response(std::move(r), f));
  });
}

}  // namespace ptp
