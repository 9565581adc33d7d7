// PTP status codes (docs/protocol.md, status codes) and their HTTP / gRPC mappings.
#pragma once

#include <string>
#include <string_view>

namespace ptp {

enum class Code : int {
  kOk = 0,
  kBadRequest = 400,
  kForbidden = 403,
  kNotFound = 404,
  kTooLarge = 413,
  kSystemError = 500,
  kLoop = 503,
  kUnknown = 520,
  kIncompatible = 600,
  kTimeout = 601,
  kNoInstance = 602,
  kCertCheck = 603,
  kAuthCodeExpired = 604,
  kPeeringExpired = 605,
  kPeerDisabled = 606,
  kUnreachable = 607,
  kSessionReleased = 608,
  kNotPermitted = 614,
  kBadCertSignature = 615,
  kCodecError = 616,
  kVersionMismatch = 617,
  kNotPeered = 618,
  kBadAddress = 619,
  kBufferFull = 700,
};

// "E0000000403" for Code::kForbidden.
std::string code_string(Code c);
// Parses "E0000000403" (or "403"); returns false when not a known code.
bool parse_code(std::string_view s, Code& out);
// The HTTP status a gateway answers with for this PTP code.
int http_status(Code c);
// The gRPC status code (grpc-status trailer) for this PTP code.
int grpc_status(Code c);
// A short English description of the code, e.g. "not authorized".
std::string_view describe(Code c);

// Outcome of a stage of the pipeline. `hop` is the node id where the error arose.
struct Status {
  Code code = Code::kOk;
  std::string message;
  std::string hop;

  bool ok() const { return code == Code::kOk; }
  static Status Ok() { return {}; }
  static Status Error(Code c, std::string msg, std::string hop_node = {}) {
    return Status{c, std::move(msg), std::move(hop_node)};
  }
  // "E0000000403 not authorized at node B: bad token" — the one text operators see.
  std::string to_string() const;
};

}  // namespace ptp
