// push→pop throughput of the embedded queue store with durability on (fsync per write
// batch). Run by hand (tests/bench/README.md); prints messages/s and MB/s.
//   ptp-bench-queue_bench [--count-1k N] [--count-1m N] [--in-flight N] [--dir DIR] [--no-sync]
#include <filesystem>

#include "adapters/queue/embedded/embedded_queue_store.h"
#include "common/version.h"
#include "tests/bench/queue_bench_common.h"

using namespace ptp;
using namespace ptp::bench;

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-bench-queue_bench")) return 0;
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
