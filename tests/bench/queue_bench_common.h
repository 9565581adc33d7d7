// Shared by the queue benchmarks: push->pop through any QueueStore, and the report line.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/queue/queue_store.h"

namespace ptp::bench {

using Clock = std::chrono::steady_clock;

struct Result {
  double seconds;
  uint64_t messages;
  uint64_t bytes;
};

// A producer pushes `count` messages keeping `in_flight` unacknowledged; a consumer pops
// and acks concurrently. Time runs from the first push to the last pop.
inline Result run(QueueStore& store, uint64_t count, size_t size, unsigned in_flight) {
  const QueueKey key{"B", "bench", "t"};
  std::string payload(size, 'x');
  std::mutex mu;
  std::condition_variable cv;
  unsigned outstanding = 0;
  std::atomic<bool> failed{false};
  auto start = Clock::now();
  std::thread consumer([&] {
    for (uint64_t i = 0; i < count; ++i) {
      std::promise<std::optional<QueuedMessage>> p;
      store.pop(key, std::chrono::seconds(30),
                [&](Status, std::optional<QueuedMessage> m) { p.set_value(std::move(m)); });
      auto m = p.get_future().get();
      if (!m) {
        failed = true;
        return;
      }
      store.ack(key, m->offset);
    }
  });
  for (uint64_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return outstanding < in_flight; });
      ++outstanding;
    }
    QueuedMessage m;
    m.message_id = std::to_string(i);
    m.env.header.session_id = "bench";
    m.env.body = payload;
    store.push(key, std::move(m), std::chrono::seconds(30), [&](Status s) {
      if (!s.ok()) failed = true;
      std::lock_guard lock(mu);
      --outstanding;
      cv.notify_one();
    });
  }
  consumer.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  {
    // A push's callback may still be running after its message was popped.
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
  }
  if (failed) std::fprintf(stderr, "errors during the run\n");
  return {secs, count, count * size};
}

inline void report(const char* what, const Result& r) {
  std::printf("%-28s %9llu msgs  %8.2f s  %10.0f msgs/s  %8.1f MB/s\n", what,
              static_cast<unsigned long long>(r.messages), r.seconds, r.messages / r.seconds,
              r.bytes / r.seconds / 1e6);
}

}  // namespace ptp::bench
