// The probe of one hop (docs/ptpctl.md "diagnose"): this node resolves its route to the
// queried node on its config snapshot and measures the next hop. A peer: TCP connect,
// TLS, authentication (a ptp/diag/echo to the peer node with this node's token), the
// round-trip time (min of small echoes), throughput (one larger echo), the largest body
// that passes (an echo ladder from 1 KiB, x4, up to the origin's max_body capped by this
// node's limits.max_body_bytes) and whether a connection survives idle_s seconds without
// traffic and without PINGs. The queried node itself with a uri: its local service
// (connect). Stops at the first step that fails. Blocking, on the diagnosis thread.
#pragma once

#include "gateway/config/config.h"
#include "gateway/diagnose/hop_query.h"
#include "gateway/diagnose/hop_report.h"
#include "gateway/diagnose/probe_loop.h"

namespace ptp {

HopReport probe_hop(ProbeLoop& loop, const ConfigPtr& cfg, const HopQuery& q);

}  // namespace ptp
