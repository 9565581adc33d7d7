// gRPC glue between the PTP protobufs and gateway Responses: status trailers, the
// Outbound reply message, and the reverse mapping for upstream gRPC answers.
#pragma once

#include <string>
#include <string_view>

#include "gateway/exchange/exchange.h"

namespace ptp {

// The trailers ending a gRPC answer whose outcome is st. kStatus: grpc-status mapped from
// st's code (with grpc-message, percent-encoded). kMessage: grpc-status 0, the outcome
// being in the answer message. Both: x-ptp-code, and on errors x-ptp-message and x-ptp-hop.
HeaderList grpc_status_trailers(const Status& st, GrpcErrors style = GrpcErrors::kStatus);
// org.ppc.ptp.Outbound for a response: code, message, payload, metadata from extra_headers
// (an error's hop as x-ptp-hop).
std::string outbound_message(const Response& r);
// Parses an upstream Outbound into a Response (status with the hop of x-ptp-hop, body,
// metadata as extra_headers).
Status parse_outbound_message(std::string_view bytes, Response& out);
// The PTP status of a finished upstream gRPC call, from its trailers.
Status status_from_grpc_trailers(const HeaderList& trailers, std::string_view peer);
// Fills fields missing in `into` from `from` (gRPC metadata map vs call headers); body moves.
void merge_envelope(Envelope& into, Envelope&& from);
// Percent-encoding of grpc-message (gRPC HTTP/2 spec).
std::string grpc_percent_encode(std::string_view s);
std::string grpc_percent_decode(std::string_view s);

}  // namespace ptp
