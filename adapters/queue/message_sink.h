// Where messages addressed to this node go when its platform does not pop them from the
// gateway's inbox: e.g. a platform attached by a Kafka egress topic (adapters/kafka).
#pragma once

#include "adapters/queue/queue_store.h"

namespace ptp {

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Hands msg over durably, then done(Ok); done(error) when it could not. May call back
  // on any thread.
  virtual void deliver(const QueueKey& key, QueuedMessage msg, QueueStore::Done done) = 0;
};

}  // namespace ptp
