// The evidence log (docs/evidence.md): append-only, hash-chained records of the messages
// this node sent and received and of audit events, one JSON object per line in
// <dir>/evidence-<seq of the file's first record, 20 digits>.jsonl. Callers on any thread
// append; one writer thread numbers, chains, writes and fdatasyncs them (every
// sync_interval_ms: the stated loss window). A write error (a full disk...) is logged,
// counted and retried; the records stay in memory up to queue_records; nothing crashes.
// trust/evidence_chain.h reads and verifies the files.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/config/config.h"
#include "trust/digest.h"
#include "trust/node_key.h"

namespace ptp {

class JsonLog;
class Metrics;

// One field of a record: written as "key":"value" (JSON-escaped), in the order given. Keys
// are the caller's own, never seq, time_ms, kind, prev or hash (the record's frame).
struct EvidenceField {
  std::string_view key;
  std::string_view value;
};

class EvidenceLog {
 public:
  // Opens (creates) cfg.dir, continues the chain of the last file found there (a partial
  // last line, left by a crash during a write, is cut off and logged) and starts the
  // writer. `key` (may be null) signs the checkpoint records. nullptr with `error` naming
  // the directory or file when the log cannot be used.
  static std::unique_ptr<EvidenceLog> open(const EvidenceConfig& cfg, DigestAlgorithm alg,
                                           std::shared_ptr<const NodeKey> key, JsonLog& log,
                                           Metrics& metrics, std::string& error);
  // Writes what is queued (as far as the disk lets it), syncs and stops the writer.
  ~EvidenceLog();
  EvidenceLog(const EvidenceLog&) = delete;
  EvidenceLog& operator=(const EvidenceLog&) = delete;

  // Queues one record of `kind` (sent, received, receipt, audit, checkpoint) with its
  // fields; its time is now. Never blocks on I/O. false: not taken (the queue holds
  // queue_records, or the log is failing and on_failure is refuse).
  bool append(std::string_view kind, std::initializer_list<EvidenceField> fields);
  // The same with a run of fields built by the caller (no copies of the values).
  bool append(std::string_view kind, std::span<const EvidenceField> fields);
  bool append(std::string_view kind,
              const std::vector<std::pair<std::string, std::string>>& fields);
  // Whether a record would be taken now: what a sender checks before it takes a message
  // that will need one (on_failure: refuse answers E0000000700 when false).
  bool accepting() const;
  // Records written so far (to the file, maybe not yet synced).
  uint64_t appended() const;
  // Records taken and not yet written (the lag, ptp_evidence_queue_records).
  uint64_t queued() const;
  // A record its caller will append later (a sent record waiting for the receipt in its
  // answer's trailers), counted while the returned token lives: a draining gateway waits
  // for them (within shutdown_grace_ms) before it cuts its connections.
  std::shared_ptr<void> promise_record();
  uint64_t promised() const { return promised_->load(std::memory_order_relaxed); }
  // Waits until everything appended so far is written and synced; returns early (false)
  // while the log cannot write (tests, shutdown).
  bool flush();
  // The settings that apply on reload: max_file_bytes, sync_interval, queue_records,
  // on_failure (dir stays what it was at open).
  void reconfigure(const EvidenceConfig& cfg);
  // The directory in use.
  const std::string& dir() const;

 private:
  struct Impl;
  explicit EvidenceLog(std::unique_ptr<Impl> impl);
  bool take(std::string_view kind, std::string&& text);
  std::unique_ptr<Impl> impl_;
  // Shared with the tokens, which may outlive the log at shutdown.
  std::shared_ptr<std::atomic<uint64_t>> promised_ = std::make_shared<std::atomic<uint64_t>>(0);
};

// The fingerprint of a public key or certificate shown in audit records: the digest (hex)
// of its DER bytes.
std::string evidence_fingerprint(DigestAlgorithm alg, std::string_view der);

}  // namespace ptp
