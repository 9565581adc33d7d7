#include "gateway/egress_drainer.h"

#include <future>

namespace ptp {

EgressDrainer::EgressDrainer(QueueStore& inbox, MessageSink& sink, std::string node,
                             std::chrono::milliseconds retry_min,
                             std::chrono::milliseconds retry_max, Report on_failure)
    : inbox_(inbox),
      sink_(sink),
      key_(queue_of(node)),
      retry_min_(retry_min),
      retry_max_(retry_max),
      on_failure_(std::move(on_failure)),
      thread_([this] { run(); }) {}

EgressDrainer::~EgressDrainer() {
  std::optional<uint64_t> ticket;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    ticket = ticket_;
  }
  cv_.notify_all();
  if (ticket) inbox_.cancel_pop(*ticket);
  thread_.join();
}

bool EgressDrainer::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stop_; });
}

void EgressDrainer::run() {
  auto backoff = retry_min_;
  while (true) {
    std::promise<std::optional<QueuedMessage>> popped;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      ticket_ = inbox_.pop(
          key_, std::chrono::seconds(1),
          [&popped](Status, std::optional<QueuedMessage> m) { popped.set_value(std::move(m)); });
    }
    std::optional<QueuedMessage> m = popped.get_future().get();
    {
      std::lock_guard lock(mu_);
      ticket_.reset();
    }
    if (!m) continue;  // timed out (or cancelled: the loop sees stop_)
    std::promise<Status> delivered;
    sink_.deliver(key_, *m, [&delivered](Status s) { delivered.set_value(std::move(s)); });
    Status st = delivered.get_future().get();
    if (st.ok()) {
      inbox_.ack(key_, m->offset);
      backoff = retry_min_;
      continue;
    }
    inbox_.nack(key_, m->offset);  // stays at the head
    on_failure_(*m, st);
    if (!wait_for(backoff)) return;
    backoff = std::min(backoff * 2, retry_max_);
  }
}

}  // namespace ptp
