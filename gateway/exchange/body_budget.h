// Budgets for request body bytes a listener holds while bodies arrive (docs/security.md,
// "Request bodies before admission"): one per process, shared by the I/O threads, and one
// per connection. A stream charges each chunk it keeps to both, and gives the bytes back
// when its body is handed on (dispatched) or dropped.
#pragma once

#include <atomic>
#include <cstdint>

namespace ptp {

// The process-wide budget. Thread-safe.
class BodyBudget {
 public:
  explicit BodyBudget(uint64_t limit) : limit_(limit) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // Takes n bytes if they fit under the limit.
  bool try_take(uint64_t n);
  void give_back(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

// One connection's budget. Single-threaded (the connection's I/O thread).
struct ConnectionBodyBudget {
  uint64_t limit = 0;
  uint64_t used = 0;
};

// What one stream holds of both budgets; gives it all back when released or destroyed.
// The budgets must outlive it.
class BodyCharge {
 public:
  enum class Result { kOk, kConnectionFull, kProcessFull };

  BodyCharge() = default;
  BodyCharge(ConnectionBodyBudget* connection, BodyBudget* process)
      : connection_(connection), process_(process) {}
  BodyCharge(const BodyCharge&) = delete;
  BodyCharge& operator=(const BodyCharge&) = delete;
  ~BodyCharge() { release(); }

  // Charges n more bytes to both budgets, or nothing (and says which one is full).
  Result add(uint64_t n);
  void release();
  uint64_t held() const { return held_; }

 private:
  ConnectionBodyBudget* connection_ = nullptr;
  BodyBudget* process_ = nullptr;
  uint64_t held_ = 0;
};

}  // namespace ptp
