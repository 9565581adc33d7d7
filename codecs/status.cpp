#include "codecs/status.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>

namespace ptp {
namespace {

struct Row {
  Code code;
  int http;
  int grpc;
  std::string_view text;
};

// gRPC codes: 0 OK, 2 UNKNOWN, 3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 5 NOT_FOUND,
// 7 PERMISSION_DENIED, 8 RESOURCE_EXHAUSTED, 9 FAILED_PRECONDITION, 12 UNIMPLEMENTED,
// 13 INTERNAL, 14 UNAVAILABLE, 16 UNAUTHENTICATED.
constexpr std::array kTable{
    Row{Code::kOk, 200, 0, "success"},
    Row{Code::kBadRequest, 400, 3, "illegal request"},
    Row{Code::kForbidden, 403, 7, "not authorized"},
    Row{Code::kNotFound, 404, 5, "resource not found"},
    Row{Code::kTooLarge, 413, 8, "body too large"},
    Row{Code::kSystemError, 500, 13, "system error"},
    Row{Code::kLoop, 508, 9, "routing loop"},
    Row{Code::kUnknown, 500, 2, "unknown error"},
    Row{Code::kIncompatible, 400, 12, "incompatible"},
    Row{Code::kTimeout, 504, 4, "timeout"},
    Row{Code::kNoInstance, 503, 14, "no service instance"},
    Row{Code::kCertCheck, 403, 16, "certificate check failed"},
    Row{Code::kAuthCodeExpired, 403, 16, "node authorization code expired"},
    Row{Code::kPeeringExpired, 403, 16, "peering expired"},
    Row{Code::kPeerDisabled, 503, 14, "peer disabled networking"},
    Row{Code::kUnreachable, 502, 14, "network unreachable"},
    Row{Code::kSessionReleased, 410, 9, "session released"},
    Row{Code::kNotPermitted, 403, 7, "interface not permitted"},
    Row{Code::kBadCertSignature, 403, 16, "invalid certificate signature"},
    Row{Code::kCodecError, 400, 3, "codec error"},
    Row{Code::kVersionMismatch, 400, 9, "downstream version mismatch"},
    Row{Code::kNotPeered, 404, 5, "node or institution not peered"},
    Row{Code::kBadAddress, 502, 14, "address invalid or unreachable"},
    Row{Code::kBufferFull, 429, 8, "message buffer full"},
};

const Row& row(Code c) {
  for (const auto& r : kTable)
    if (r.code == c) return r;
  return kTable[7];  // kUnknown
}

}  // namespace

std::string code_string(Code c) {
  // "E" and ten zero-padded digits: 11 characters, no allocation (this runs per request).
  const int v = static_cast<int>(c);
  if (v < 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "E%010d", v);
    return buf;
  }
  std::string out(11, '0');
  out[0] = 'E';
  char digits[12];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  const size_t n = static_cast<size_t>(end - digits);
  std::copy(digits, end, out.end() - static_cast<std::ptrdiff_t>(std::min<size_t>(n, 10)));
  return out;
}

bool parse_code(std::string_view s, Code& out) {
  if (!s.empty() && (s.front() == 'E' || s.front() == 'e')) s.remove_prefix(1);
  int v = -1;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return false;
  for (const auto& r : kTable)
    if (static_cast<int>(r.code) == v) {
      out = r.code;
      return true;
    }
  return false;
}

int http_status(Code c) { return row(c).http; }
int grpc_status(Code c) { return row(c).grpc; }
std::string_view describe(Code c) { return row(c).text; }

std::string Status::to_string() const {
  std::string s = code_string(code);
  s += ' ';
  s += describe(code);
  if (!hop.empty()) s += " at node " + hop;
  if (!message.empty()) s += ": " + message;
  return s;
}

}  // namespace ptp
