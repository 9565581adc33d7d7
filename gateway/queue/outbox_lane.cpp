#include "gateway/queue/outbox_lane.h"

#include <boost/asio/post.hpp>

#include "gateway/observability/json_log.h"

namespace ptp {

OutboxLane::OutboxLane(QueueStore& store, boost::asio::any_io_executor ex, std::string target,
                       ConfigStore& config, JsonLog& log, Deliver deliver)
    : store_(store),
      ex_(ex),
      target_(std::move(target)),
      config_(config),
      log_(log),
      deliver_(std::move(deliver)) {}

void OutboxLane::notify(const std::string& session) {
  boost::asio::post(ex_, [self = shared_from_this(), session] { self->wake(session); });
}

void OutboxLane::retry_now() {
  boost::asio::post(ex_, [self = shared_from_this()] {
    if (self->stopped_) return;
    for (auto& [name, s] : self->sessions_) {
      if (!s.timer) continue;
      s.timer.reset();  // cancels its wait
      s.backoff = std::chrono::milliseconds(0);
      self->enqueue(name, s);
    }
    self->pump();
  });
}

void OutboxLane::stop() {
  boost::asio::post(ex_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->line_.clear();
    for (auto& [name, s] : self->sessions_)
      if (s.timer) s.timer->cancel();
  });
}

void OutboxLane::wake(const std::string& session) {
  if (stopped_) return;
  Session& s = sessions_[session];
  if (s.busy) {
    s.again = true;
    return;
  }
  if (s.timer) return;  // backing off: its timer looks again
  enqueue(session, s);
  pump();
}

void OutboxLane::enqueue(const std::string& name, Session& s) {
  if (s.queued) return;
  s.queued = true;
  line_.push_back(name);
}

void OutboxLane::pump() {
  const int limit = config_.current()->queue.outbox_concurrency;
  while (!stopped_ && in_flight_ < limit && !line_.empty()) {
    std::string name = std::move(line_.front());
    line_.pop_front();
    Session& s = sessions_[name];
    s.queued = false;
    s.busy = true;
    s.again = false;
    ++in_flight_;
    // The store may answer inline or on its thread: continue on ex_ either way.
    store_.pop(key_for(target_, name), std::chrono::milliseconds(0),
               [self = shared_from_this(), name](Status st, std::optional<QueuedMessage> m) {
                 boost::asio::post(self->ex_,
                                   [self, name, st = std::move(st), m = std::move(m)]() mutable {
                                     self->on_popped(name, std::move(st), std::move(m));
                                   });
               });
  }
}

void OutboxLane::on_popped(const std::string& name, Status st, std::optional<QueuedMessage> m) {
  if (stopped_) {
    if (m) store_.nack(key_for(target_, name), m->offset);
    return;
  }
  Session& s = sessions_[name];
  if (!st.ok()) {
    log_.error("outbox queue read failed, will retry",
               {.session_id = name, .target = target_, .extra = {{"error", st.to_string()}}});
    --in_flight_;
    s.busy = false;
    back_off(name, s);
    return pump();
  }
  if (!m) {
    --in_flight_;
    s.busy = false;
    idle(name, s);
    return pump();
  }
  const uint64_t offset = m->offset;
  deliver_(std::move(*m), [self = shared_from_this(), name, offset](Outcome o) {
    boost::asio::post(self->ex_, [self, name, offset, o] { self->on_finished(name, offset, o); });
  });
}

void OutboxLane::on_finished(const std::string& name, uint64_t offset, Outcome o) {
  const QueueKey key = key_for(target_, name);
  if (o == Outcome::kRetry)
    store_.nack(key, offset);
  else
    store_.ack(key, offset);
  if (stopped_) return;
  --in_flight_;
  Session& s = sessions_[name];
  s.busy = false;
  if (o == Outcome::kRetry) {
    back_off(name, s);
  } else {
    if (o == Outcome::kDelivered) s.backoff = std::chrono::milliseconds(0);
    enqueue(name, s);  // its next message, after the other sessions' turns
  }
  pump();
}

void OutboxLane::back_off(const std::string& name, Session& s) {
  s.again = false;
  ConfigPtr cfg = config_.current();
  s.backoff =
      s.backoff.count() == 0 ? cfg->queue.retry_min : std::min(s.backoff * 2, cfg->queue.retry_max);
  s.timer = std::make_unique<boost::asio::steady_timer>(ex_, s.backoff);
  s.timer->async_wait([self = shared_from_this(), name](boost::system::error_code ec) {
    if (ec || self->stopped_) return;
    auto it = self->sessions_.find(name);
    if (it == self->sessions_.end()) return;
    it->second.timer.reset();
    self->enqueue(name, it->second);
    self->pump();
  });
}

void OutboxLane::idle(const std::string& name, Session& s) {
  if (s.again) {  // a push arrived while the empty queue was read
    s.again = false;
    enqueue(name, s);
    return;
  }
  if (!s.timer && !s.queued) sessions_.erase(name);
}

}  // namespace ptp
