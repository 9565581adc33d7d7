// The built-in diagnostic service: an invoke to this node with x-ptp-uri ptp/diag/echo
// is answered by the gateway itself, echoing the body and returning the PTP header
// fields it received as x-ptp-diag-* response headers (never the token itself).
// A transport stream to it is echoed back chunk by chunk with flow control.
#pragma once

#include "gateway/exchange/exchange.h"
#include "gateway/route/route_table.h"

namespace ptp {

// kDiagEchoUri ("ptp/diag/echo") is declared in gateway/route/route_table.h.

Response diag_echo(Request& req, const std::string& node_id);

}  // namespace ptp
