// Delivers the messages of one queue in order, one at a time: leases the head, hands it
// to a delivery function, and by its outcome removes it (delivered, or dropped for good)
// or puts it back at the head and retries after a backoff that doubles from
// queue.retry_min up to queue.retry_max (read from the running config at each retry).
// One loop for the outbox (forward to the target's gateway), passive delivery (invoke a
// local service) and the egress drainer (hand over to an attached platform).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "adapters/queue/queue_store.h"
#include "gateway/config/config_store.h"

namespace ptp {

class JsonLog;

class QueueDrainer : public std::enable_shared_from_this<QueueDrainer> {
 public:
  enum class Outcome {
    kDelivered,  // accepted downstream: removed
    kDropped,    // refused for good (the delivery function logged why): removed
    kRetry,      // not accepted: stays at the head, retried after the backoff
  };
  // Must be called exactly once, from any thread.
  using Finish = std::function<void(Outcome)>;
  // Runs on the drainer's executor.
  using Deliver = std::function<void(QueuedMessage, Finish)>;

  // `name` identifies the queue in logs (e.g. "outbox to B"). The delivery function may
  // reference objects that live as long as the drainer runs: it is never called after
  // the executor stopped, nor after stop().
  static std::shared_ptr<QueueDrainer> start(QueueStore& store, boost::asio::any_io_executor ex,
                                             QueueKey key, std::string name, ConfigStore& config,
                                             JsonLog& log, Deliver deliver);

  QueueDrainer(QueueStore& store, boost::asio::any_io_executor ex, QueueKey key, std::string name,
               ConfigStore& config, JsonLog& log, Deliver deliver);
  QueueDrainer(const QueueDrainer&) = delete;
  QueueDrainer& operator=(const QueueDrainer&) = delete;

  // Stops from any thread; a message being delivered stays queued unless it was accepted.
  void stop();

 private:
  void next();
  void on_popped(Status s, std::optional<QueuedMessage> m);
  void on_finished(uint64_t offset, Outcome o);
  void retry_later();

  QueueStore& store_;
  boost::asio::any_io_executor ex_;
  QueueKey key_;
  std::string name_;
  ConfigStore& config_;
  JsonLog& log_;
  Deliver deliver_;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds backoff_{0};
  std::optional<uint64_t> ticket_;
  bool stopped_ = false;  // touched on ex_ only
};

}  // namespace ptp
