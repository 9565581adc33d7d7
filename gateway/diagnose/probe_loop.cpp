#include "gateway/diagnose/probe_loop.h"

#include <algorithm>

namespace ptp {

ProbeLoop::ProbeLoop(const std::atomic<bool>& stopping, Clock::time_point deadline)
    : stopping_(stopping), deadline_(deadline), work_(ioc_.get_executor()) {}

ProbeLoop::~ProbeLoop() {
  work_.reset();
  // What the probe left (connections closing, timers cancelled) finishes here, briefly.
  ioc_.run_for(std::chrono::milliseconds(100));
}

bool ProbeLoop::over() const {
  return stopping_.load(std::memory_order_relaxed) || Clock::now() >= deadline_;
}

bool ProbeLoop::run_until(const std::function<bool()>& done, Clock::time_point until) {
  const auto end = std::min(until, deadline_);
  while (!done()) {
    if (stopping_.load(std::memory_order_relaxed)) return false;
    const auto now = Clock::now();
    if (now >= end) return false;
    // Wakes at least every 100 ms to notice a stop.
    ioc_.run_one_until(std::min(end, now + std::chrono::milliseconds(100)));
  }
  return true;
}

bool ProbeLoop::sleep(Clock::duration d) {
  const auto until = Clock::now() + d;
  run_until([] { return false; }, until);
  return Clock::now() >= until && !over();
}

}  // namespace ptp
