// How this gateway's gRPC server reports a PTP error (docs/configuration.md,
// listen.grpc_errors and peers[i].grpc_errors).
#pragma once

#include <cstdint>
#include <string_view>

namespace ptp {

enum class GrpcErrors : uint8_t {
  // The standard: grpc-status 0 and the PTP code and message in the answer (Outbound,
  // TransportOutbound).
  kMessage,
  // A non-OK grpc-status mapped from the PTP code, trailers only (x-ptp-code beside it).
  kStatus,
};

constexpr std::string_view grpc_errors_name(GrpcErrors e) {
  return e == GrpcErrors::kStatus ? "status" : "message";
}

// Accepts exactly the names grpc_errors_name() returns.
constexpr bool parse_grpc_errors(std::string_view s, GrpcErrors& out) {
  if (s == "message") {
    out = GrpcErrors::kMessage;
    return true;
  }
  if (s == "status") {
    out = GrpcErrors::kStatus;
    return true;
  }
  return false;
}

}  // namespace ptp
