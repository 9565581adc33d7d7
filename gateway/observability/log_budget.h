// Rate-limits a kind of log line that strangers can cause (refusals of unauthenticated
// requests): a token bucket that lets `burst` lines through at once, then `per_second`
// lines a second; allow() says whether to write now and how many lines were left out since
// the last one written (put that count in the line). One thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

namespace ptp {

class LogBudget {
 public:
  LogBudget(double per_second, double burst)
      : per_second_(per_second), burst_(burst), tokens_(burst) {}

  bool allow(uint64_t& suppressed,
             std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    if (started_) {
      const double elapsed = std::chrono::duration<double>(now - last_).count();
      if (elapsed > 0) tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
    }
    started_ = true;
    last_ = std::max(last_, now);
    if (tokens_ < 1.0) {
      ++suppressed_;
      return false;
    }
    tokens_ -= 1.0;
    suppressed = std::exchange(suppressed_, 0);
    return true;
  }

 private:
  double per_second_;
  double burst_;
  double tokens_;
  bool started_ = false;
  std::chrono::steady_clock::time_point last_{};
  uint64_t suppressed_ = 0;
};

}  // namespace ptp
