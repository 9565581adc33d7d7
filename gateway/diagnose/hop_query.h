// What a hop probe is asked (docs/ptpctl.md "diagnose"): the node the diagnosis goes
// toward, the service at that node, the largest body the origin wants to pass and how
// long a connection must survive idle. The JSON of POST /diagnose/hop and of the in-band
// ptp/diag/hop body: {"node","from","uri","max_body","idle_s"} (from: admin route only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/status.h"

namespace ptp {

// Bounds of a probe: idle_s up to this, and the whole probe within kProbeBudgetS + idle_s.
inline constexpr int kMaxIdleS = 30;
inline constexpr int kProbeBudgetS = 20;

struct HopQuery {
  std::string node;       // the node the diagnosis goes toward
  std::string from;       // the node that probes its next hop (empty: this node)
  std::string uri;        // the service at `node` (empty: no service hop)
  uint64_t max_body = 0;  // 0: the origin's limits.max_body_bytes
  int idle_s = 3;         // 0: idle not measured
  std::string origin;     // the node that asked (the admin's node, or the in-band source)
};

// Parses and checks the JSON; an error (E0000000400) names the bad field.
Status parse_hop_query(std::string_view json, HopQuery& out);
// {"node","uri","max_body","idle_s"}: the in-band ptp/diag/hop body.
std::string hop_query_body(const HopQuery& q);

}  // namespace ptp
