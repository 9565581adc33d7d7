#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "../../scratch_dir.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "trust/evidence_chain.h"

using namespace ptp;
using ptp::testing::read_all;
using ptp::testing::ScratchDir;
using ptp::testing::write_all;

namespace {

struct LogFixture {
  ScratchDir dir{"ptp-evlog"};
  std::vector<std::string> lines;
  JsonLog log{[this](std::string_view l) { lines.emplace_back(l); }, LogLevel::kInfo};
  Metrics metrics;
  EvidenceConfig cfg;
  LogFixture() {
    cfg.enabled = true;
    cfg.dir = (dir.path / "ev").string();
  }
  std::unique_ptr<EvidenceLog> open(DigestAlgorithm alg = DigestAlgorithm::kSha256) {
    std::string error;
    auto l = EvidenceLog::open(cfg, alg, nullptr, log, metrics, error);
    INFO(error);
    REQUIRE(l);
    return l;
  }
  ChainResult verify() {
    return verify_evidence_dir(cfg.dir, {.digest = std::nullopt, .keep_records = true});
  }
};

}  // namespace

TEST_CASE("evidence log: records are chained, written in order, with their fields") {
  LogFixture f;
  auto log = f.open();
  CHECK(log->accepting());
  CHECK(log->append("audit", {{"event", "config_reload"}, {"file", "a \"q\"\n.yaml"}}));
  CHECK(log->append(
      "sent", std::vector<std::pair<std::string, std::string>>{{"msg", "abc"}, {"target", "B"}}));
  CHECK(log->flush());
  CHECK(log->appended() == 2);
  CHECK(log->queued() == 0);
  ChainResult r = f.verify();
  INFO(r.message);
  REQUIRE(r.ok());
  REQUIRE(r.records == 2);
  CHECK(r.records_list[0].kind == "audit");
  CHECK(r.records_list[0].fields.at("file") == "a \"q\"\n.yaml");
  CHECK(r.records_list[0].prev == evidence_zero_hash());
  CHECK(r.records_list[1].fields.at("msg") == "abc");
  CHECK(r.records_list[1].prev == r.records_list[0].hash);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  CHECK(r.records_list[1].time_ms <= now_ms);
  CHECK(r.records_list[1].time_ms > now_ms - 60000);
  const std::string text = f.metrics.render();
  CHECK(text.find("ptp_evidence_records_total{kind=\"audit\"} 1") != std::string::npos);
  CHECK(text.find("ptp_evidence_records_total{kind=\"sent\"} 1") != std::string::npos);
}

TEST_CASE("evidence log: many threads append, every record is there once, SM3 chain") {
  LogFixture f;
  auto log = f.open(DigestAlgorithm::kSm3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 500; ++i)
        REQUIRE(log->append("sent", {{"msg", std::to_string(t * 1000 + i)}}));
    });
  for (auto& t : threads) t.join();
  REQUIRE(log->flush());
  ChainResult r = f.verify();
  REQUIRE(r.ok());
  CHECK(r.digest == DigestAlgorithm::kSm3);
  CHECK(r.records == 2000);
  std::set<std::string> msgs;
  for (const auto& rec : r.records_list) msgs.insert(rec.fields.at("msg"));
  CHECK(msgs.size() == 2000);
}

TEST_CASE("evidence log: rotation by size keeps the chain, a reopen continues it") {
  LogFixture f;
  f.cfg.max_file_bytes = 4096;
  {
    auto log = f.open();
    for (int i = 0; i < 100; ++i)
      REQUIRE(log->append("audit", {{"event", "e"}, {"n", std::to_string(i)}}));
    REQUIRE(log->flush());
  }
  std::vector<std::pair<uint64_t, std::string>> files;
  std::string error;
  REQUIRE(list_evidence_files(f.cfg.dir, files, error));
  CHECK(files.size() > 2);
  for (const auto& [seq, path] : files) CHECK(std::filesystem::file_size(path) <= 4096);
  {
    auto log = f.open();
    REQUIRE(log->append("audit", {{"event", "after restart"}}));
    REQUIRE(log->flush());
  }
  ChainResult r = f.verify();
  INFO(r.message);
  CHECK(r.ok());
  CHECK(r.records == 101);
  CHECK(r.records_list.back().fields.at("event") == "after restart");
  CHECK(r.records_list.back().seq == 101);
}

TEST_CASE("evidence log: a partial last line (a crash mid-write) is cut off at open") {
  LogFixture f;
  {
    auto log = f.open();
    REQUIRE(log->append("audit", {{"event", "one"}}));
    REQUIRE(log->flush());
  }
  const auto file = std::filesystem::path(f.cfg.dir) / evidence_file_name(1);
  write_all(file, read_all(file) + "{\"seq\":2,\"time_ms\":17");
  CHECK(verify_evidence_dir(f.cfg.dir).problem == ChainProblem::kMalformed);
  {
    auto log = f.open();
    REQUIRE(log->append("audit", {{"event", "two"}}));
    REQUIRE(log->flush());
  }
  ChainResult r = f.verify();
  CHECK(r.ok());
  CHECK(r.records == 2);
  bool warned = false;
  for (const auto& l : f.lines) warned = warned || l.find("incomplete last line") != l.npos;
  CHECK(warned);
}

TEST_CASE("evidence log: a malformed last record stops the open with the file named") {
  LogFixture f;
  std::filesystem::create_directories(f.cfg.dir);
  write_all(std::filesystem::path(f.cfg.dir) / evidence_file_name(1), "not a record\n");
  std::string error;
  auto log = EvidenceLog::open(f.cfg, DigestAlgorithm::kSha256, nullptr, f.log, f.metrics, error);
  CHECK_FALSE(log);
  CHECK(error.find(evidence_file_name(1)) != std::string::npos);
}

TEST_CASE("evidence log: the queue is bounded") {
  LogFixture f;
  f.cfg.queue_records = 16;
  f.cfg.sync_interval = std::chrono::milliseconds(0);
  auto log = f.open();
  int taken = 0;
  for (int i = 0; i < 100000 && taken < 100000; ++i) taken += log->append("sent", {{"n", "x"}});
  // The writer keeps up with some; never more than 16 wait.
  CHECK(log->queued() <= 16);
  REQUIRE(log->flush());
  CHECK(f.verify().records == static_cast<uint64_t>(taken));
}

// A file-size limit makes writes fail (EFBIG, SIGXFSZ ignored) like a full disk does.
TEST_CASE("evidence log: write errors are retried, refused or kept per on_failure, no crash") {
  for (auto mode : {EvidenceOnFailure::kRefuse, EvidenceOnFailure::kContinue}) {
    CAPTURE(static_cast<int>(mode));
    LogFixture f;
    f.cfg.on_failure = mode;
    f.cfg.queue_records = 64;
    auto log = f.open();
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit small = old;
    small.rlim_cur = 2048;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    int taken = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (log->accepting() && std::chrono::steady_clock::now() < deadline) {
      if (log->append("sent", {{"msg", std::string(100, 'm')}})) ++taken;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (mode == EvidenceOnFailure::kContinue && log->queued() >= 64) break;
    }
    // Failing now: refuse takes nothing more; continue holds up to queue_records.
    bool extra = log->append("sent", {{"msg", "one more"}});
    if (mode == EvidenceOnFailure::kRefuse) {
      CHECK_FALSE(log->accepting());
      CHECK_FALSE(extra);
    } else {
      CHECK(log->queued() <= 64);
      taken += extra;
    }
    CHECK(f.metrics.render().find("ptp_evidence_write_errors_total 0") == std::string::npos);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    ::signal(SIGXFSZ, old_handler);
    // Space again: the writer's retry writes what it held, the chain unbroken.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!log->flush() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(log->accepting());
    CHECK(log->append("sent", {{"msg", "after"}}));
    REQUIRE(log->flush());
    ChainResult r = f.verify();
    INFO(r.message);
    CHECK(r.ok());
    CHECK(r.records == static_cast<uint64_t>(taken) + 1);
  }
}
