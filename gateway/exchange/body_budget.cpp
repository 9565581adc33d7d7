#include "gateway/exchange/body_budget.h"

namespace ptp {

bool BodyBudget::try_take(uint64_t n) {
  uint64_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (n > limit_ || cur > limit_ - n) return false;
  } while (!used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return true;
}

BodyCharge::Result BodyCharge::add(uint64_t n) {
  if (connection_) {
    if (n > connection_->limit || connection_->used > connection_->limit - n)
      return Result::kConnectionFull;
  }
  if (process_ && !process_->try_take(n)) return Result::kProcessFull;
  if (connection_) connection_->used += n;
  held_ += n;
  return Result::kOk;
}

void BodyCharge::release() {
  if (held_ == 0) return;
  if (connection_) connection_->used -= held_;
  if (process_) process_->give_back(held_);
  held_ = 0;
}

}  // namespace ptp
