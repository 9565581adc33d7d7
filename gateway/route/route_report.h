// The effective routes of one config snapshot as the operator sees them (GET /routes on
// the admin port, `ptpctl routes`, docs/ptpctl.md): the peer table with each peer's next
// hop and the address in use, the default route, the local services; and, for one target,
// the decision a request to it would get.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "gateway/config/config.h"

namespace ptp {

// {"node_id","inst_id","router","default_route","peers":[...],"local_services":[...]}
std::string route_table_json(const Config& cfg);

// The decision for a request to `node` (or, without one, institution `inst`) with x-ptp-uri
// `uri`: 200 {"target","kind":"peer"|"local"|"diag","route","next_hop","address","protocol",
// "service"} or 404 {"target","kind":"error","code","message"}; 400 without node and inst.
std::pair<unsigned, std::string> route_decision_json(const Config& cfg, std::string_view node,
                                                     std::string_view inst, std::string_view uri);

}  // namespace ptp
