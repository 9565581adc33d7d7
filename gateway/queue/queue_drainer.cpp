#include "gateway/queue/queue_drainer.h"

#include <boost/asio/post.hpp>

#include "gateway/observability/json_log.h"

namespace ptp {
namespace {
// A pop waits this long before it is renewed; stop() cancels it earlier.
constexpr std::chrono::milliseconds kPopWait{30000};
}  // namespace

std::shared_ptr<QueueDrainer> QueueDrainer::start(QueueStore& store,
                                                  boost::asio::any_io_executor ex, QueueKey key,
                                                  std::string name, ConfigStore& config,
                                                  JsonLog& log, Deliver deliver) {
  auto d = std::make_shared<QueueDrainer>(store, ex, std::move(key), std::move(name), config, log,
                                          std::move(deliver));
  boost::asio::post(ex, [d] { d->next(); });
  return d;
}

QueueDrainer::QueueDrainer(QueueStore& store, boost::asio::any_io_executor ex, QueueKey key,
                           std::string name, ConfigStore& config, JsonLog& log, Deliver deliver)
    : store_(store),
      ex_(ex),
      key_(std::move(key)),
      name_(std::move(name)),
      config_(config),
      log_(log),
      deliver_(std::move(deliver)),
      timer_(ex) {}

void QueueDrainer::stop() {
  boost::asio::post(ex_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
    if (self->ticket_) self->store_.cancel_pop(*self->ticket_);
  });
}

void QueueDrainer::next() {
  if (stopped_) return;
  // The store answers on its own thread, possibly after the drainer's owner is gone
  // (shutdown): the handler touches only the drainer until it runs on ex_.
  ticket_ = store_.pop(key_, kPopWait, [self = shared_from_this()](Status s, auto m) {
    boost::asio::post(self->ex_, [self, s = std::move(s), m = std::move(m)]() mutable {
      self->on_popped(std::move(s), std::move(m));
    });
  });
}

void QueueDrainer::on_popped(Status s, std::optional<QueuedMessage> m) {
  ticket_.reset();
  if (stopped_) {
    if (m) store_.nack(key_, m->offset);
    return;
  }
  if (!s.ok()) {
    log_.error("queue read failed, will retry",
               {.extra = {{"queue", name_}, {"error", s.to_string()}}});
    return retry_later();
  }
  if (!m) return next();
  const uint64_t offset = m->offset;
  deliver_(std::move(*m), [self = shared_from_this(), offset](Outcome o) {
    boost::asio::post(self->ex_, [self, offset, o] { self->on_finished(offset, o); });
  });
}

void QueueDrainer::on_finished(uint64_t offset, Outcome o) {
  if (o == Outcome::kRetry) {
    store_.nack(key_, offset);
    return retry_later();
  }
  store_.ack(key_, offset);
  if (o == Outcome::kDelivered) backoff_ = std::chrono::milliseconds(0);
  next();
}

void QueueDrainer::retry_later() {
  if (stopped_) return;
  ConfigPtr cfg = config_.current();
  backoff_ =
      backoff_.count() == 0 ? cfg->queue.retry_min : std::min(backoff_ * 2, cfg->queue.retry_max);
  timer_.expires_after(backoff_);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->next();
  });
}

}  // namespace ptp
