#include <doctest/doctest.h>

#include <string>

#include "config_test_support.h"
#include "gateway/config/config_store.h"

using namespace ptp;
using ptp::testing::error_of;
using ptp::testing::parse_ok;

namespace {

const std::string kBase = R"(
node: {node_id: A, inst_id: INST_A}
listen: {port: 17304}
auth: {node_keys: {A: "k-a"}}
)";

}  // namespace

TEST_CASE("evidence: off without the section, defaults with an empty one") {
  CHECK_FALSE(parse_ok(kBase)->evidence.enabled);
  auto cfg = parse_ok(kBase + "evidence: {}\n");
  const EvidenceConfig& e = cfg->evidence;
  CHECK(e.enabled);
  CHECK(e.dir.empty());  // main puts it under the data directory
  CHECK(e.max_file_bytes == 64ull << 20);
  CHECK(e.sync_interval.count() == 200);
  CHECK(e.queue_records == 65536);
  CHECK(e.on_failure == EvidenceOnFailure::kRefuse);
  CHECK(e.sign);
  CHECK(e.require_signature);
  CHECK(e.batch_window_us == 1000);
  CHECK(e.batch_max == 256);
  CHECK_FALSE(e.receipt_to_client);
}

TEST_CASE("evidence: every key parsed, dir resolved against the config file") {
  auto cfg = parse_ok(kBase + R"(
evidence:
  dir: ev
  max_file_bytes: 4096
  sync_interval_ms: 0
  queue_records: 16
  on_failure: continue
  sign: false
  require_signature: false
  batch_window_us: 50
  batch_max: 8
  receipt_to_client: true
)");
  const EvidenceConfig& e = cfg->evidence;
  CHECK(e.dir == "ev");  // t.yaml has no directory
  CHECK(e.max_file_bytes == 4096);
  CHECK(e.sync_interval.count() == 0);
  CHECK(e.queue_records == 16);
  CHECK(e.on_failure == EvidenceOnFailure::kContinue);
  CHECK_FALSE(e.sign);
  CHECK_FALSE(e.require_signature);
  CHECK(e.batch_window_us == 50);
  CHECK(e.batch_max == 8);
  CHECK(e.receipt_to_client);
}

TEST_CASE("evidence: bad values are refused with the key path") {
  CHECK(error_of(kBase + "evidence: {on_failure: drop}\n").find("evidence.on_failure") !=
        std::string::npos);
  CHECK(error_of(kBase + "evidence: {max_file_bytes: 100}\n").find("evidence.max_file_bytes") !=
        std::string::npos);
  CHECK(error_of(kBase + "evidence: {queue_records: 0}\n").find("evidence.queue_records") !=
        std::string::npos);
  CHECK(error_of(kBase + "evidence: {sync_interval_ms: -1}\n").find("evidence.sync_interval_ms") !=
        std::string::npos);
  CHECK(error_of(kBase + "evidence: {dir: \"\"}\n").find("evidence.dir") != std::string::npos);
  CHECK(error_of(kBase + "evidence: {path: x}\n").find("unknown key") != std::string::npos);
  CHECK(error_of(kBase + "evidence: [1]\n").find("evidence") != std::string::npos);
}

TEST_CASE("evidence: the section's presence and dir need a restart, the rest reloads") {
  ConfigPtr off = parse_ok(kBase);
  ConfigPtr on = parse_ok(kBase + "evidence: {dir: /var/ev}\n");
  CHECK(restart_required(*off, *on).find("evidence off -> on") != std::string::npos);
  Config moved = *on;
  moved.evidence.dir = "/var/other";
  CHECK(restart_required(*on, moved).find("evidence.dir \"/var/ev\" -> \"/var/other\"") !=
        std::string::npos);
  Config tuned = *on;
  tuned.evidence.sync_interval = std::chrono::milliseconds(5);
  tuned.evidence.on_failure = EvidenceOnFailure::kContinue;
  tuned.evidence.max_file_bytes = 8192;
  tuned.evidence.queue_records = 100;
  CHECK(restart_required(*on, tuned).empty());
}
