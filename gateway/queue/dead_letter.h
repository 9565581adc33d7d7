// Dead letters of the outbox (docs/queues.md "Dead letters"): a message the target node
// refused for good, or that was not delivered within queue.outbox_ttl_s, leaves the
// outbox as a message to the sender's own node, in its session, on the topic
// queue.dead_letter_topic, where the sending container pops (or peeks) it like any
// message: its payload, its metadata and message id, plus why it was not delivered.
#pragma once

#include <string>
#include <string_view>

#include "adapters/queue/queue_store.h"
#include "codecs/envelope.h"
#include "codecs/status.h"
#include "gateway/config/config.h"

namespace ptp {

// Metadata a dead letter carries besides the original message's.
inline constexpr std::string_view kDeadLetterCodeKey = "dead-letter-code";      // E0000000413
inline constexpr std::string_view kDeadLetterReasonKey = "dead-letter-reason";  // Status text
inline constexpr std::string_view kDeadLetterTargetKey = "dead-letter-target";  // target node
inline constexpr std::string_view kDeadLetterTopicKey = "dead-letter-topic";    // its topic

// An answer of the target that retrying cannot change: 400, 403, 413, 608, 614, 616.
// Everything else (700 full, 5xx, 601 timeout, 607 unreachable, 618 ...) is retried.
bool refused_for_good(Code c);

// The dead letter of outbox message `m` for `target`, refused (or expired) with `why`:
// from this node to this node, same session, on cfg.queue.dead_letter_topic, with the
// original payload, content type, message id and metadata (outbox bookkeeping removed).
Envelope dead_letter_of(const Config& cfg, const QueuedMessage& m, const std::string& target,
                        const Status& why);

}  // namespace ptp
