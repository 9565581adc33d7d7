// The report of one hop of `ptpctl diagnose` (docs/ptpctl.md "diagnose"): what node
// `from` measured toward the next hop on its route to a node, as the JSON the admin route
// POST /diagnose/hop and the in-band ptp/diag/hop answer. Measurements not taken are
// absent from the JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ptp {

// Why a hop failed: the first step that did not pass.
enum class HopFailure { kNone, kRoute, kConnect, kTls, kAuth, kBody, kIdle, kService, kProbe };
// "", "route", "connect", "tls", "auth", "body", "idle", "service", "probe".
const char* hop_failure_name(HopFailure f);

struct HopTls {
  bool used = false;
  double handshake_ms = 0;
  std::string subject{}, issuer{}, not_after{};  // of the certificate that answered
  bool verified = false;  // chains to the pinned root / CA and names the peer
  std::string error{};    // the handshake's failure
};

struct HopAuth {
  bool ok = false;
  std::string code;  // the PTP code the peer answered (empty when ok)
  std::string message;
};

struct HopBodyRefused {
  uint64_t size = 0;
  std::string code, message;
};

struct HopIdle {
  double seconds = 0;
  std::optional<bool> survived;  // unset: not measured (an HTTP/1.1 peer)
  std::string error;
};

struct HopReport {
  std::string from, to;
  std::string kind = "peer";  // "peer" or "service"
  std::string address;
  std::string next;  // the node the diagnosis continues from; empty at the last hop
  HopFailure failure = HopFailure::kNone;
  std::string reason;
  uint64_t max_body = 0;  // the largest body the origin asked for
  std::optional<double> connect_ms;
  std::optional<HopTls> tls;
  std::optional<HopAuth> auth;
  std::optional<double> rtt_ms;
  std::optional<double> throughput_mbps;
  std::optional<uint64_t> largest_body;
  std::optional<HopBodyRefused> body_refused;
  std::optional<HopIdle> idle;

  bool ok() const { return failure == HopFailure::kNone; }
  void fail(HopFailure f, std::string why) {
    failure = f;
    reason = std::move(why);
  }
};

// {"from","to","kind","address","next","ok","failure","reason","max_body","connect_ms",
//  "tls":{...},"auth":{...},"rtt_ms","throughput_mbps","largest_body","body_refused":{...},
//  "idle":{...}}
std::string hop_report_json(const HopReport& r);

}  // namespace ptp
