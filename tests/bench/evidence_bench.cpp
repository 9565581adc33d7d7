// The evidence log (docs/evidence.md): records appended per second (appenders on several
// threads, the writer thread hashing, writing and fdatasyncing every sync_interval_ms), and
// records verified per second by trust/evidence_chain. Run by hand
// (tests/bench/README.md); prints both rates.
//   ptp-bench-evidence_bench [--records N] [--threads T] [--dir DIR] [--sm3]
//                            [--sync-interval-ms MS]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/version.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "trust/evidence_chain.h"

using namespace ptp;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-bench-evidence_bench")) return 0;
  uint64_t records = 1000000;
  unsigned threads = 2;
  int64_t sync_ms = 200;
  DigestAlgorithm alg = DigestAlgorithm::kSha256;
  std::string dir = (std::filesystem::temp_directory_path() / "ptp-evidence-bench").string();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--records")
      records = std::stoull(next());
    else if (a == "--threads")
      threads = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--dir")
      dir = next();
    else if (a == "--sync-interval-ms")
      sync_ms = std::stoll(next());
    else if (a == "--sm3")
      alg = DigestAlgorithm::kSm3;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::filesystem::remove_all(dir);
  JsonLog log(LogLevel::kWarn);
  Metrics metrics;
  EvidenceConfig cfg;
  cfg.enabled = true;
  cfg.dir = dir;
  cfg.sync_interval = std::chrono::milliseconds(sync_ms);
  std::string error;
  // A `sent` record the size the signer writes: the leaf fields, a digest, a signature.
  const std::string msg(64, 'a'), body_digest(64, 'b'), sig(180, 's');
  uint64_t refused = 0;
  double append_s = 0;
  {
    auto ev = EvidenceLog::open(cfg, alg, nullptr, log, metrics, error);
    if (!ev) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    std::vector<std::thread> ts;
    std::vector<uint64_t> refused_by(threads, 0);
    const auto t0 = Clock::now();
    for (unsigned t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        const std::string trace = "trace-" + std::to_string(t);
        for (uint64_t i = t; i < records; i += threads) {
          // A full queue refuses: wait for the writer as a sender would retry later.
          while (!ev->append("sent", {{"msg", msg},
                                      {"trace_id", trace},
                                      {"session", "session-0001"},
                                      {"source_node", "A"},
                                      {"target_node", "B"},
                                      {"interface", "invoke"},
                                      {"uri", "svc.alpha"},
                                      {"body_digest", body_digest},
                                      {"size", "1024"},
                                      {"sig", sig}})) {
            ++refused_by[t];
            std::this_thread::yield();
          }
        }
      });
    for (auto& t : ts) t.join();
    ev->flush();
    append_s = std::chrono::duration<double>(Clock::now() - t0).count();
    for (uint64_t r : refused_by) refused += r;
  }
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) bytes += e.file_size();
  const auto t1 = Clock::now();
  ChainResult r = verify_evidence_dir(dir, {.digest = alg});
  const double verify_s = std::chrono::duration<double>(Clock::now() - t1).count();
  if (!r.ok()) {
    std::fprintf(stderr, "verify failed: %s %s\n", r.message.c_str(), r.error.c_str());
    return 1;
  }
  std::printf("digest %s, %u appending threads, sync every %lld ms\n",
              std::string(digest_algorithm_name(alg)).c_str(), threads,
              static_cast<long long>(sync_ms));
  std::printf(
      "append: %llu records (%.1f MiB, %llu files) in %.2f s = %.0f records/s (%llu "
      "appends refused by a full queue and retried)\n",
      static_cast<unsigned long long>(records), bytes / 1048576.0,
      static_cast<unsigned long long>(r.files), append_s, records / append_s,
      static_cast<unsigned long long>(refused));
  std::printf("verify: %llu records in %.2f s = %.0f records/s\n",
              static_cast<unsigned long long>(r.records), verify_s, r.records / verify_s);
  std::filesystem::remove_all(dir);
  return 0;
}
