#include <doctest/doctest.h>

#include <string>

#include "../../scratch_dir.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/evidence/message_records.h"
#include "gateway/observability/json_log.h"
#include "gateway/observability/metrics.h"
#include "trust/evidence_chain.h"

using namespace ptp;
using ptp::testing::read_all;
using ptp::testing::ScratchDir;

namespace {

// "msg":..., then MessageFields::to_fields() in its order, then the tail: what a record's
// text must hold (the proof export and `ptpctl evidence match` read these fields).
std::string expected_fields(const std::string& msg, const MessageFields& m,
                            std::initializer_list<std::pair<std::string, std::string>> tail) {
  std::string out;
  append_json_string(out, "msg");
  out += ':';
  append_json_string(out, msg);
  auto add = [&](const std::string& k, const std::string& v) {
    out += ',';
    append_json_string(out, k);
    out += ':';
    append_json_string(out, v);
  };
  for (const auto& [k, v] : m.to_fields()) add(k, v);
  for (const auto& [k, v] : tail) add(k, v);
  return out;
}

}  // namespace

TEST_CASE("message records: sent and received hold msg, the message fields in order, the tail") {
  ScratchDir dir{"ptp-msgrec"};
  JsonLog jlog{[](std::string_view) {}, LogLevel::kError};
  Metrics metrics;
  EvidenceConfig cfg;
  cfg.enabled = true;
  cfg.dir = (dir.path / "ev").string();
  std::string error;
  auto log = EvidenceLog::open(cfg, DigestAlgorithm::kSha256, nullptr, jlog, metrics, error);
  REQUIRE(log);
  MessageFields m{.version = "1.0",
                  .iface = "invoke",
                  .source_node = "A",
                  .source_inst = "INST_A",
                  .target_node = "B",
                  .target_inst = "INST_B",
                  .session = "s \"1\"",
                  .trace = "t-1",
                  .uri = "ptp/echo",
                  .topic = "",
                  .body_size = 1024,
                  .body_digest = std::string(64, 'a'),
                  .sent_ms = 1764900000123,
                  .framing = {}};
  Digest32 msg{};
  msg[0] = 0xab;
  const std::string hex = digest_hex(msg);
  CHECK(record_sent(log.get(), m, msg, "v1;sig"));
  CHECK(record_received(log.get(), m, msg, "v1;sig", "E0000000000", ""));  // empty: left out
  CHECK(record_receipt(log.get(), msg, "B", "E0000000000", "v1;r", ""));
  // The sender's one record of an answered message: the receipt (and countersign) in it.
  CHECK(record_sent_answered(log.get(), m, msg, "v1;sig", "E0000000000", "v1;r", "v1;c"));
  CHECK(record_sent_answered(log.get(), m, msg, "v1;sig", "E0000000601", "", ""));
  REQUIRE(log->flush());
  std::string files_text;
  std::vector<std::pair<uint64_t, std::string>> files;
  REQUIRE(list_evidence_files(cfg.dir, files, error));
  for (const auto& f : files) files_text += read_all(f.second);
  CHECK(files_text.find(",\"kind\":\"sent\"," + expected_fields(hex, m, {{"sig", "v1;sig"}}) +
                        ",\"prev\":") != std::string::npos);
  CHECK(files_text.find(",\"kind\":\"received\"," +
                        expected_fields(hex, m, {{"sig", "v1;sig"}, {"status", "E0000000000"}}) +
                        ",\"prev\":") != std::string::npos);
  CHECK(files_text.find(",\"kind\":\"receipt\",\"msg\":\"" + hex +
                        "\",\"from\":\"B\",\"status\":\"E0000000000\",\"receipt\":\"v1;r\""
                        ",\"prev\":") != std::string::npos);
  CHECK(files_text.find(",\"kind\":\"sent\"," +
                        expected_fields(hex, m,
                                        {{"sig", "v1;sig"},
                                         {"status", "E0000000000"},
                                         {"receipt", "v1;r"},
                                         {"countersign", "v1;c"}}) +
                        ",\"prev\":") != std::string::npos);
  CHECK(files_text.find(",\"kind\":\"sent\"," +
                        expected_fields(hex, m, {{"sig", "v1;sig"}, {"status", "E0000000601"}}) +
                        ",\"prev\":") != std::string::npos);
  ChainResult r = verify_evidence_dir(cfg.dir);
  INFO(r.message);
  CHECK(r.ok());
  CHECK(r.records == 5);
}

TEST_CASE("message records: a receipt or countersign over the bound is recorded as its length") {
  // A malicious receiver (or router) pads its answer's x-ptp-receipt / x-ptp-countersign:
  // the sender's append-only record of the message must not grow with it.
  ScratchDir dir{"ptp-msgrec-long"};
  JsonLog jlog{[](std::string_view) {}, LogLevel::kError};
  Metrics metrics;
  EvidenceConfig cfg;
  cfg.enabled = true;
  cfg.dir = (dir.path / "ev").string();
  std::string error;
  auto log = EvidenceLog::open(cfg, DigestAlgorithm::kSha256, nullptr, jlog, metrics, error);
  REQUIRE(log);
  MessageFields m;
  m.version = "1";
  m.iface = "invoke";
  m.source_node = "A";
  m.target_node = "B";
  Digest32 msg{};
  const std::string padded(65536, 'x');
  const std::string countersign(70000, 'y');
  const std::string at_bound(kMaxProofValueBytes, 'z');  // still verbatim
  CHECK(record_sent_answered(log.get(), m, msg, "v1;sig", "E0000000000", padded, countersign));
  CHECK(record_receipt(log.get(), msg, "B", "E0000000000", padded, countersign));
  CHECK(record_receipt(log.get(), msg, "B", "E0000000000", at_bound, ""));
  REQUIRE(log->flush());
  std::string text;
  std::vector<std::pair<uint64_t, std::string>> files;
  REQUIRE(list_evidence_files(cfg.dir, files, error));
  for (const auto& f : files) text += read_all(f.second);
  CHECK(text.size() < 8192);
  CHECK(text.find("xxxxxxxx") == std::string::npos);
  CHECK(text.find("yyyyyyyy") == std::string::npos);
  CHECK(text.find("\"receipt_refused\":\"65536 bytes\",\"countersign_refused\":\"70000 bytes\"") !=
        std::string::npos);
  CHECK(text.find("\"receipt\":\"" + at_bound + "\"") != std::string::npos);
  ChainResult r = verify_evidence_dir(cfg.dir);
  INFO(r.message);
  CHECK(r.ok());
}
