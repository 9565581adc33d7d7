// gRPC glue between the PTP protobufs and gateway Responses: status trailers, the
// Outbound reply message, and the reverse mapping for upstream gRPC answers.
#pragma once

#include <string>
#include <string_view>

#include "gateway/exchange.h"

namespace ptp {

// grpc-status / grpc-message (percent-encoded) / x-ptp-code / x-ptp-error-hop.
HeaderList grpc_status_trailers(const Status& st);
// org.ppc.ptp.Outbound for a response: code, message, payload, metadata from extra_headers.
std::string outbound_message(const Response& r);
// Parses an upstream Outbound into a Response (status, body, metadata as extra_headers).
Status parse_outbound_message(std::string_view bytes, Response& out);
// The PTP status of a finished upstream gRPC call, from its trailers.
Status status_from_grpc_trailers(const HeaderList& trailers, std::string_view peer);
// Fills fields missing in `into` from `from` (gRPC metadata map vs call headers); body moves.
void merge_envelope(Envelope& into, Envelope&& from);
// Percent-encoding of grpc-message (gRPC HTTP/2 spec).
std::string grpc_percent_encode(std::string_view s);
std::string grpc_percent_decode(std::string_view s);

}  // namespace ptp
