// Hands the messages for this node to its attached platform (a MessageSink, e.g. the
// Kafka egress topic) in order, from one queue of the inbox: the inbox stores them first
// (durably, deduplicated by message id, like any push), the drainer delivers the head,
// and removes it only once the sink accepted it; a failed delivery is retried with
// backoff. A crash between delivery and removal can deliver a message once more; the
// record carries x-ptp-message-id for the platform to tell.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "adapters/queue/message_sink.h"
#include "adapters/queue/queue_store.h"

namespace ptp {

class EgressDrainer {
 public:
  // The inbox queue that holds messages on their way to the sink.
  static QueueKey queue_of(const std::string& node) { return {node, "~egress", ""}; }

  using Report = std::function<void(const QueuedMessage&, const Status&)>;
  EgressDrainer(QueueStore& inbox, MessageSink& sink, std::string node,
                std::chrono::milliseconds retry_min, std::chrono::milliseconds retry_max,
                Report on_failure);
  ~EgressDrainer();  // stops; a message being delivered stays queued unless accepted
  EgressDrainer(const EgressDrainer&) = delete;
  EgressDrainer& operator=(const EgressDrainer&) = delete;

 private:
  void run();
  bool wait_for(std::chrono::milliseconds d);  // false when stopping

  QueueStore& inbox_;
  MessageSink& sink_;
  QueueKey key_;
  std::chrono::milliseconds retry_min_, retry_max_;
  Report on_failure_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::optional<uint64_t> ticket_;
  std::thread thread_;
};

}  // namespace ptp
