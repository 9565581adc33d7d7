// The evidence section: the hash-chained evidence log and the message signatures that feed
// it (docs/evidence.md, docs/configuration.md). Its presence and `dir` are read at start.
#include "gateway/config/config_yaml.h"
#include "trust/message_evidence.h"

namespace ptp::config_yaml {

void parse_evidence(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  YAML::Node node = root["evidence"];
  if (!node) return;
  Section s(node, "evidence",
            {"dir", "max_file_bytes", "sync_interval_ms", "queue_records", "on_failure", "sign",
             "require_signature", "batch_window_us", "batch_max", "receipt_to_client",
             "batch_statements"});
  EvidenceConfig& e = cfg.evidence;
  e.enabled = true;
  if (s.has("dir")) e.dir = files.path(s.required_string("dir"));
  e.max_file_bytes = static_cast<uint64_t>(
      s.integer("max_file_bytes", static_cast<int64_t>(e.max_file_bytes), 4096, int64_t{1} << 40));
  e.sync_interval =
      std::chrono::milliseconds(s.integer("sync_interval_ms", e.sync_interval.count(), 0, 60000));
  e.queue_records =
      static_cast<uint32_t>(s.integer("queue_records", e.queue_records, 16, 16 << 20));
  const std::string on_failure = s.string("on_failure", "refuse");
  if (on_failure != "refuse" && on_failure != "continue")
    fail(s.at("on_failure"), "expected refuse or continue, got " + quote_value(on_failure));
  e.on_failure = on_failure == "refuse" ? EvidenceOnFailure::kRefuse : EvidenceOnFailure::kContinue;
  e.sign = s.boolean("sign", e.sign);
  e.require_signature = s.boolean("require_signature", e.require_signature);
  e.batch_window_us = static_cast<int>(s.integer("batch_window_us", e.batch_window_us, 0, 1000000));
  e.batch_max = static_cast<int>(s.integer("batch_max", e.batch_max, 1, kMaxBatchLeaves));
  e.receipt_to_client = s.boolean("receipt_to_client", e.receipt_to_client);
  e.batch_statements = s.boolean("batch_statements", e.batch_statements);
}

}  // namespace ptp::config_yaml
