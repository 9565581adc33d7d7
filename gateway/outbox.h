// The durable outbox of remote pushes (docs/queues.md): one FIFO per target node in
// its own QueueStore; a drainer per target forwards the head message to the target's
// gateway as an invoke of `ptp/queue/push` and removes it only once the target has
// stored it. Failures back off exponentially; messages past their expiry, or refused
// for good by the target (403, 400, 413, 608, 616), are dropped with an error log.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/queue/queue_store.h"
#include "gateway/config_store.h"
#include "gateway/http1_client.h"
#include "gateway/queue_drainer.h"
#include "gateway/upstream_pool.h"

namespace ptp {

class Metrics;
class JsonLog;

// Extension metadata: unix time after which an outbox message is dropped.
inline constexpr std::string_view kOutboxExpiryKey = "x-ptp-outbox-expiry";

class Outbox {
 public:
  Outbox(QueueStore& store, boost::asio::any_io_executor ex, ConfigStore& config, Metrics& metrics,
         JsonLog& log);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Stores msg durably for `target` (then done(Ok)) and makes sure a drainer runs.
  void push(const std::string& target, QueuedMessage msg, std::chrono::milliseconds wait,
            QueueStore::Done done);
  // Starts drainers for these targets (those with messages left from an earlier run).
  void resume(const std::vector<std::string>& targets);
  // Stops the drainers; in-flight forwards are abandoned (the messages stay stored).
  void stop();

  static QueueKey key_for(const std::string& target) { return {target, "outbox", ""}; }

 private:
  class Forward;
  void ensure_drainer(const std::string& target);

  QueueStore& store_;
  boost::asio::any_io_executor ex_;
  ConfigStore& config_;
  Metrics& metrics_;
  JsonLog& log_;
  UpstreamPool h2_;
  Http1ClientPool h1_;
  std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<QueueDrainer>> drainers_;
};

}  // namespace ptp
