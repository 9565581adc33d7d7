// A fixed pool of threads for CPU-heavy work (encryption), off the I/O threads
// (docs/architecture.md, "Threads"). Several callers may run parallel loops on one pool at once;
// their tasks share the threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ptp::rs {

class WorkerPool {
 public:
  // threads == 0: one per core.
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();  // finishes queued tasks, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(threads_.size()); }

  // Calls fn(i) for every i in [0, n) on the pool's threads and returns when all calls are
  // done. Indices are handed out in small batches, so uneven costs balance out. If calls
  // throw, the remaining indices are skipped and the first exception is rethrown here.
  // Must not be called from a pool thread.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ptp::rs
