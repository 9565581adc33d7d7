// What a permit must cover for a request, and the grantee's side (docs/authorization.md
// "Permits"): the held permit a request from this node to its holder carries in
// `x-ptp-permit`.
#pragma once

#include <cstdint>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/interface.h"
#include "gateway/permits/permit_service.h"

namespace ptp {

// The resource a request asks for, as a permit names it.
struct PermitAsk {
  std::string_view type;      // "service", "topic", "router_job"
  std::string_view resource;  // x-ptp-uri, the message topic, the job id
};

// A push (an invoke of ptp/queue/push from another node's outbox) of `topic` in `session`:
// the router server's job topic (rs.job) asks for the router_job `session` (the job id),
// any other topic for the topic itself.
PermitAsk push_permit_ask(std::string_view topic, std::string_view session);
// Any request: a push as above, else the service named by x-ptp-uri.
PermitAsk permit_ask(const Envelope& env);

// The held permit for a request to `holder` asking for `ask` at `now`: holder, type and
// resource match, within its time window; the highest level wins. Null when none.
const Permit* find_held_permit(const HeldPermits& held, std::string_view holder,
                               const PermitAsk& ask, int64_t now);

// Sets x-ptp-permit on a request from this node to env's target when a held permit covers
// it (leaves one already there alone). True when one was attached.
bool attach_held_permit(const HeldPermits& held, Envelope& env, int64_t now);

}  // namespace ptp
