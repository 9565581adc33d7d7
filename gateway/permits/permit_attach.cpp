#include "gateway/permits/permit_attach.h"

#include "codecs/header_codec.h"
#include "common/glob.h"
#include "gateway/queue/queue_service.h"
#include "router/rs/job_spec.h"

namespace ptp {

PermitAsk push_permit_ask(std::string_view topic, std::string_view session) {
  if (topic == rs::kJobTopic) return {"router_job", session};
  return {"topic", topic};
}

PermitAsk permit_ask(const Envelope& env) {
  if (env.header.uri == kQueuePushUri) {
    static const std::string kTopicKey(kMessageTopicKey);
    auto it = env.meta.find(kTopicKey);
    return push_permit_ask(it == env.meta.end() ? std::string_view() : it->second,
                           env.header.session_id);
  }
  return {"service", env.header.uri};
}

const Permit* find_held_permit(const HeldPermits& held, std::string_view holder,
                               const PermitAsk& ask, int64_t now) {
  const Permit* best = nullptr;
  for (const Permit& p : held) {
    const PermitPayload& x = p.payload;
    if (x.holder != holder || x.type != ask.type || now < x.not_before || now > x.not_after ||
        !glob_match(x.resource, ask.resource))
      continue;
    if (!best || x.level > best->payload.level) best = &p;
  }
  return best;
}

bool attach_held_permit(const HeldPermits& held, Envelope& env, int64_t now) {
  static const std::string kKey(kPermitHeaderName);
  if (held.empty() || env.meta.count(kKey)) return false;
  const Permit* p = find_held_permit(held, env.header.target_node_id, permit_ask(env), now);
  if (!p) return false;
  env.meta[kKey] = p->text;
  return true;
}

}  // namespace ptp
