// The encapsulated (v1.1.0) body in both directions (docs/encapsulation.md): an Inbound
// holding the header fields in its metadata and the payload, answered by an Outbound. The
// server side (pipeline/encapsulation.h's gate) unwraps requests and wraps answers; the
// forwarder wraps requests to peers configured with `encapsulation` and reads their answers.
#pragma once

#include <string>
#include <string_view>

#include "codecs/encapsulated_codec.h"
#include "gateway/exchange/exchange.h"

namespace ptp {

// Unwraps an encapsulated HTTP invoke body into req.env (header fields from the Inbound's
// metadata; one also sent as an HTTP header must have the same value). kCodecError for a
// malformed body, kBadRequest for a conflict.
Status decapsulate(EncapsulatedFormat f, Envelope& env);
// The answer to an encapsulated request: r's status, payload and metadata (the relayed
// headers, trace and session id, the hop of an error) as an Outbound body.
Response encapsulate_response(Response&& r, EncapsulatedFormat f);

// Client side: the body of an encapsulated request to a peer, an Inbound with env's header
// fields (not x-ptp-version) and extension metadata in its metadata.
std::string encapsulated_request_body(const Envelope& env, EncapsulatedFormat f);
// A v1.1.0 peer's HTTP answer: its Outbound decides the outcome. An answer that is no
// Outbound (e.g. a proxy's error page) is read as any HTTP answer (response_from_http).
Response response_from_encapsulated_http(int http_status, HeaderList headers, std::string body,
                                         std::string_view hop_name,
                                         std::string_view hop_address = {});

}  // namespace ptp
