#include "gateway/queue/dead_letter.h"

#include "gateway/queue/outbox.h"
#include "gateway/queue/queue_service.h"
#include "gateway/route/route_path.h"

namespace ptp {

bool refused_for_good(Code c) {
  switch (c) {
    case Code::kBadRequest:
    case Code::kForbidden:
    case Code::kTooLarge:
    case Code::kSessionReleased:
    case Code::kNotPermitted:
    case Code::kCodecError:
      return true;
    default:
      return false;
  }
}

namespace {
// A status text as a metadata value: printable, bounded.
std::string printable(std::string s) {
  constexpr size_t kMax = 512;
  if (s.size() > kMax) s.resize(kMax);
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
  return s;
}
}  // namespace

Envelope dead_letter_of(const Config& cfg, const QueuedMessage& m, const std::string& target,
                        const Status& why) {
  Envelope e = m.env;
  e.header.uri.clear();
  e.header.token.clear();
  e.header.source_node_id = cfg.node_id;
  e.header.source_inst_id = cfg.inst_id;
  e.header.target_node_id = cfg.node_id;
  e.header.target_inst_id = cfg.inst_id;
  if (e.header.version.empty()) e.header.version = "1";
  e.meta.erase(std::string(kOutboxExpiryKey));
  e.meta.erase(std::string(kRoutePathKey));
  e.meta.erase(std::string(kMessageOffsetKey));
  std::string& topic = e.meta[std::string(kMessageTopicKey)];
  e.meta[std::string(kDeadLetterTopicKey)] = topic;
  topic = cfg.queue.dead_letter_topic;
  e.meta[std::string(kDeadLetterTargetKey)] = target;
  e.meta[std::string(kDeadLetterCodeKey)] = code_string(why.code);
  e.meta[std::string(kDeadLetterReasonKey)] = printable(why.to_string());
  return e;
}

}  // namespace ptp
