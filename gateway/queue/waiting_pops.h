// The clients' pops that wait for a message, so that a shutdown can answer them at once
// ("no message") instead of holding the process for their whole timeout.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "adapters/queue/queue_store.h"

namespace ptp {

class WaitingPops {
 public:
  explicit WaitingPops(QueueStore& store) : store_(store) {}

  // Before store.pop(): an id for this wait; `draining` says the pop must not wait.
  uint64_t begin(bool& draining) {
    std::lock_guard lock(mu_);
    draining = draining_;
    tickets_.emplace(++next_id_, 0);
    return next_id_;
  }
  // After store.pop() returned its ticket (the answer may already have come).
  void started(uint64_t id, uint64_t ticket) {
    {
      std::lock_guard lock(mu_);
      auto it = tickets_.find(id);
      if (it == tickets_.end()) return;  // answered already
      if (!draining_) {
        it->second = ticket;
        return;
      }
    }
    store_.cancel_pop(ticket);
  }
  // In the pop's callback.
  void answered(uint64_t id) {
    std::lock_guard lock(mu_);
    tickets_.erase(id);
  }
  // Answers every waiting pop now; later pops do not wait.
  void drain() {
    std::vector<uint64_t> cancel;
    {
      std::lock_guard lock(mu_);
      draining_ = true;
      for (const auto& [id, ticket] : tickets_)
        if (ticket) cancel.push_back(ticket);
    }
    for (uint64_t t : cancel) store_.cancel_pop(t);  // outside the lock: answers may run inline
  }

 private:
  QueueStore& store_;
  std::mutex mu_;
  bool draining_ = false;
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, uint64_t> tickets_;  // wait id -> store ticket (0: not yet)
};

}  // namespace ptp
