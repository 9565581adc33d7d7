// The metadata key that carries the node ids a request passed through, in order: the loop
// check refuses a request whose path already names this node; the outbox starts it, the
// last hop (passive delivery, dead letters) strips it.
#pragma once

#include <string_view>

namespace ptp {

constexpr std::string_view kRoutePathKey = "x-ptp-route-path";

}  // namespace ptp
