// How many client connections the PTP port holds open at once (connections.max_connections).
// Each accepted connection takes a slot; one that finds none free is closed at once, so
// file descriptors stay for the admin port, next hops and the queue store.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>

namespace ptp {

class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  explicit ConnectionSlot(std::shared_ptr<std::atomic<size_t>> open) : open_(std::move(open)) {}
  ConnectionSlot(ConnectionSlot&&) noexcept = default;
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      release();
      open_ = std::move(o.open_);
    }
    return *this;
  }
  ~ConnectionSlot() { release(); }
  // Frees the slot now (the connection's socket is closed); idempotent.
  void release() {
    if (auto p = std::exchange(open_, nullptr)) p->fetch_sub(1, std::memory_order_relaxed);
  }
  explicit operator bool() const { return open_ != nullptr; }

 private:
  std::shared_ptr<std::atomic<size_t>> open_;
};

// Any thread may take and free slots.
class ConnectionLimit {
 public:
  explicit ConnectionLimit(size_t max) : max_(max) {}
  // A slot, or an empty one when `max` connections are open.
  ConnectionSlot try_acquire() {
    size_t n = open_->fetch_add(1, std::memory_order_relaxed);
    if (n >= max_) {
      open_->fetch_sub(1, std::memory_order_relaxed);
      return {};
    }
    return ConnectionSlot(open_);
  }
  size_t open() const { return open_->load(std::memory_order_relaxed); }
  size_t max() const { return max_; }

 private:
  const size_t max_;
  std::shared_ptr<std::atomic<size_t>> open_ = std::make_shared<std::atomic<size_t>>(0);
};

}  // namespace ptp
