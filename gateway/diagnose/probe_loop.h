// The event loop of one diagnosis: a fresh io_context run by the diagnosis thread itself,
// step by step (run_until), so that a probe reads as a sequence of steps. Every wait is
// bounded by the diagnosis's deadline and ends early when the service stops.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace ptp {

class ProbeLoop {
 public:
  using Clock = std::chrono::steady_clock;
  ProbeLoop(const std::atomic<bool>& stopping, Clock::time_point deadline);
  ~ProbeLoop();
  ProbeLoop(const ProbeLoop&) = delete;
  ProbeLoop& operator=(const ProbeLoop&) = delete;

  boost::asio::any_io_executor executor() { return ioc_.get_executor(); }
  // Runs handlers until done() holds (true), or until `until`, the deadline or a stop
  // (false).
  bool run_until(const std::function<bool()>& done,
                 Clock::time_point until = Clock::time_point::max());
  // Runs handlers for `d` (a connection left idle still sees its peer close it); false
  // when the deadline or a stop came first.
  bool sleep(Clock::duration d);
  // Whether the deadline passed or the service stops.
  bool over() const;
  Clock::time_point deadline() const { return deadline_; }

 private:
  const std::atomic<bool>& stopping_;
  Clock::time_point deadline_;
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
};

}  // namespace ptp
