// push→pop throughput of the embedded queue store with durability on (fsync per write
// batch). Run by hand (tests/bench/README.md); prints messages/s and MB/s.
//   ptp-bench-queue_bench [--count-1k N] [--count-1m N] [--in-flight N] [--dir DIR] [--no-sync]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/queue/embedded_queue_store.h"

using namespace ptp;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
  double seconds;
  uint64_t messages;
  uint64_t bytes;
};

// A producer pushes `count` messages keeping `in_flight` unacknowledged; a consumer pops
// and acks concurrently. Time runs from the first push to the last pop.
Result run(QueueStore& store, uint64_t count, size_t size, unsigned in_flight) {
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
  if (failed) std::fprintf(stderr, "errors during the run\n");
  return {secs, count, count * size};
}

void report(const char* what, const Result& r) {
  std::printf("%-28s %9llu msgs  %8.2f s  %10.0f msgs/s  %8.1f MB/s\n", what,
              static_cast<unsigned long long>(r.messages), r.seconds, r.messages / r.seconds,
              r.bytes / r.seconds / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t count_1k = 200000, count_1m = 2000;
  unsigned in_flight = 256;
  bool sync = true;
  std::string dir = (std::filesystem::temp_directory_path() / "ptp-queue-bench").string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--count-1k")
      count_1k = std::stoull(next());
    else if (a == "--count-1m")
      count_1m = std::stoull(next());
    else if (a == "--in-flight")
      in_flight = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--dir")
      dir = next();
    else if (a == "--no-sync")
      sync = false;
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  std::printf("embedded store, sync=%s, %u pushes in flight, data in %s\n", sync ? "on" : "off",
              in_flight, dir.c_str());
  for (auto [size, count, name] : {std::tuple{size_t(1024), count_1k, "1 KiB push->pop"},
                                   std::tuple{size_t(1) << 20, count_1m, "1 MiB push->pop"}}) {
    std::filesystem::remove_all(dir);
    EmbeddedQueueOptions o;
    o.path = dir;
    o.sync = sync;
    o.limits.max_session_bytes = o.limits.max_total_bytes = 1ull << 40;
    Status err;
    auto store = EmbeddedQueueStore::open(o, err);
    if (!store) {
      std::fprintf(stderr, "%s\n", err.to_string().c_str());
      return 1;
    }
    report(name, run(*store, count, size, in_flight));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
