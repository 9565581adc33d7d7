// Hands the messages for this node to its attached platform (a MessageSink, e.g. the
// Kafka egress topic) in order, from one queue of the inbox: the inbox stores them first
// (durably, deduplicated by message id, like any push), the drainer delivers the head,
// and removes it only once the sink accepted it; a failed delivery is logged and retried
// with the queue's backoff. A crash between delivery and removal can deliver a message
// once more; the record carries x-ptp-message-id for the platform to tell.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "adapters/queue/message_sink.h"
#include "adapters/queue/queue_store.h"
#include "gateway/config/config_store.h"
#include "gateway/queue/queue_drainer.h"

namespace ptp {

class JsonLog;

class EgressDrainer {
 public:
  // The inbox queue that holds messages on their way to the sink.
  static QueueKey queue_of(const std::string& node) { return {node, "~egress", ""}; }

  // Runs on `ex`; the sink must outlive the executor's run (it is called on it).
  EgressDrainer(QueueStore& inbox, MessageSink& sink, const std::string& node,
                boost::asio::any_io_executor ex, ConfigStore& config, JsonLog& log);
  ~EgressDrainer();  // stops; a message being delivered stays queued unless accepted
  EgressDrainer(const EgressDrainer&) = delete;
  EgressDrainer& operator=(const EgressDrainer&) = delete;

 private:
  std::shared_ptr<QueueDrainer> drainer_;
};

}  // namespace ptp
