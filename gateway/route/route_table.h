// The route stage: which sink a request goes to, decided from the PTP header and one
// config snapshot (docs/protocol.md, headers: by target node id first, then by target institution
// id).
#pragma once

#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/status.h"
#include "gateway/config/config.h"

namespace ptp {

struct RouteDecision {
  enum class Kind { kDiag, kLocalService, kPeer, kError };
  Kind kind = Kind::kError;
  const PeerConfig* next_hop = nullptr;         // kPeer: the neighbour to send to (via resolved)
  const PeerConfig* target_peer = nullptr;      // kPeer: the peer entry that matched the target
  const LocalServiceConfig* service = nullptr;  // kLocalService
  Status error;                                 // kError
  // For metrics labels: "diag", "local:<pattern>", "peer:<node>", "default:<node>".
  std::string route_name;
};

// The x-ptp-uri a gateway answers itself (diagnostics echo).
inline constexpr std::string_view kDiagEchoUri = "ptp/diag/echo";
// The x-ptp-uri of the in-band hop probe of `ptpctl diagnose` (gateway/diagnose), also
// answered by the gateway itself (route kind kDiag).
inline constexpr std::string_view kDiagHopUri = "ptp/diag/hop";

// The request's target is this node: its node id, or without one its institution.
bool is_for_this_node(const Config& cfg, const PtpHeader& h);

// Pointers in the decision point into `cfg`: the caller keeps its ConfigPtr alive.
RouteDecision resolve_route(const Config& cfg, const PtpHeader& h);

}  // namespace ptp
