// Passive delivery (docs/queues.md "Sync and async"): queued messages whose topic matches
// a local service configured `passive: true` wait in one inbox queue per service and are
// delivered, in order, by invoking that service (like an invoke routed to it); each is
// removed only after the service answered with success, and retried with the queue's
// backoff otherwise. When the message names a message-topic-back, the service's answer
// is pushed back to the sender on that topic (the async half of a sync invoke).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <vector>

#include "adapters/queue/queue_store.h"
#include "gateway/config/config_store.h"
#include "gateway/queue/queue_drainer.h"
#include "gateway/upstream/http1_client.h"
#include "gateway/upstream/upstream_pool.h"

namespace ptp {

class Metrics;
class JsonLog;
class QueueService;

class PassiveDelivery {
 public:
  // The inbox queue of the messages waiting for the passive service `pattern`.
  static QueueKey queue_of(const std::string& node, const std::string& pattern) {
    return {node, "~passive", pattern};
  }

  PassiveDelivery(QueueStore& inbox, boost::asio::any_io_executor ex, ConfigStore& config,
                  Metrics& metrics, JsonLog& log, QueueService& queues);
  ~PassiveDelivery();
  PassiveDelivery(const PassiveDelivery&) = delete;
  PassiveDelivery& operator=(const PassiveDelivery&) = delete;

  // Starts a deliverer for every passive service of the current config (services added by
  // a reload start at the next restart).
  void start();
  // Stops them; a message being delivered stays queued unless it was accepted.
  void stop();

 private:
  class Invoke;

  QueueStore& inbox_;
  boost::asio::any_io_executor ex_;
  ConfigStore& config_;
  JsonLog& log_;
  QueueService& queues_;
  UpstreamPool h2_;
  Http1ClientPool h1_;
  std::vector<std::shared_ptr<QueueDrainer>> deliverers_;
};

}  // namespace ptp
