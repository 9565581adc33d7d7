// The client connections of one I/O context, so that a shutdown can drain them: each is
// asked to finish what it has accepted and take nothing new (HTTP/2: GOAWAY; HTTP/1.1:
// close after the current response), and the process waits until they are gone.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

namespace ptp {

class DrainableSession {
 public:
  virtual ~DrainableSession() = default;
  // Called on the session's own I/O thread; idempotent.
  virtual void drain_gracefully() = 0;
};

// Touched only on its context's thread, except live(), which any thread may read.
class SessionRegistry {
 public:
  void add(std::weak_ptr<DrainableSession> s) {
    // Purged when the list doubled since the last purge: O(1) per accept on average, and
    // the list stays within twice the live sessions.
    if (sessions_.size() >= 2 * purged_size_) purge();
    sessions_.push_back(std::move(s));
    live_.store(sessions_.size(), std::memory_order_relaxed);
    if (draining_)
      if (auto p = sessions_.back().lock()) p->drain_gracefully();
  }
  // Drains every session now and every session added later.
  void drain_all() {
    draining_ = true;
    purge();
    for (auto& w : sessions_)
      if (auto p = w.lock()) p->drain_gracefully();
  }
  // Forgets sessions that are gone and updates live().
  void purge() {
    std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
    purged_size_ = sessions_.size();
    live_.store(sessions_.size(), std::memory_order_relaxed);
  }
  // Sessions added and not yet purged: exact after purge(), an upper bound in between.
  size_t live() const { return live_.load(std::memory_order_relaxed); }

 private:
  std::vector<std::weak_ptr<DrainableSession>> sessions_;
  size_t purged_size_ = 0;  // sessions_.size() after the last purge
  std::atomic<size_t> live_{0};
  bool draining_ = false;
};

}  // namespace ptp
