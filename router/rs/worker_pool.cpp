#include "router/rs/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>

namespace ptp::rs {

WorkerPool::WorkerPool(unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::run() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void WorkerPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  // Shared by the tasks of this loop; the caller waits until every task has finished.
  struct Loop {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::condition_variable done_cv;
    size_t running = 0;
    std::exception_ptr error;
  };
  auto loop = std::make_shared<Loop>();
  const size_t tasks = std::min<size_t>(size(), n);
  // Small batches: cheap to hand out, fine-grained enough to balance ~1 ms encryptions.
  const size_t batch = std::max<size_t>(1, std::min<size_t>(16, n / (tasks * 8)));
  loop->running = tasks;
  auto body = [loop, n, batch, &fn] {
    try {
      while (!loop->failed.load(std::memory_order_relaxed)) {
        const size_t begin = loop->next.fetch_add(batch);
        if (begin >= n) break;
        const size_t end = std::min(n, begin + batch);
        for (size_t i = begin; i < end; ++i) fn(i);
      }
    } catch (...) {
      std::lock_guard lock(loop->mu);
      if (!loop->error) loop->error = std::current_exception();
      loop->failed = true;
    }
    std::lock_guard lock(loop->mu);
    if (--loop->running == 0) loop->done_cv.notify_all();
  };
  {
    std::lock_guard lock(mu_);
    for (size_t t = 0; t < tasks; ++t) tasks_.emplace_back(body);
  }
  cv_.notify_all();
  std::unique_lock lock(loop->mu);
  loop->done_cv.wait(lock, [&] { return loop->running == 0; });
  if (loop->error) std::rethrow_exception(loop->error);
}

}  // namespace ptp::rs
