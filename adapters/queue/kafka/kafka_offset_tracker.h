// Which offsets of one Kafka partition are still owed to a client, and what to commit
// (docs/queues-kafka.md "Offsets"). The committed offset is the lowest offset not yet
// acknowledged; acknowledged offsets above it travel in the commit's metadata, so after a
// restart they are skipped instead of delivered again. Not thread-safe (the store locks).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace ptp {

class KafkaOffsetTracker {
 public:
  // Resumes from a committed offset and its metadata (see commit_metadata()); malformed
  // metadata is ignored, which only means redelivery.
  void start(int64_t committed, std::string_view metadata);

  // The consumer read `offset`. False when it was already handled (produced here and
  // indexed from the delivery report, or acknowledged before a restart): skip it.
  bool consume(int64_t offset);
  // Below the committed offset this tracker started from: done before a restart (the
  // store re-reads a few such records only to remember their ids for deduplication).
  bool before_start(int64_t offset) const { return offset < start_; }
  // Our own record was delivered at `offset`. True when the consumer has not read it yet:
  // the caller indexes it now and consume() will skip it later.
  bool produced(int64_t offset);

  void hold(int64_t offset) { pending_.insert(offset); }  // indexed, owed to a client
  void done(int64_t offset) { pending_.erase(offset); }   // acknowledged or dropped

  // The offset to commit: every offset below it is done (read by the consumer or produced
  // here, and not held).
  int64_t commit_offset() const;
  // Describes the done offsets in [commit_offset(), known_end()) as "v1 <end> <owed...>"
  // (every offset in the range is done except those listed); shortened (by lowering end)
  // to stay within max_bytes.
  std::string commit_metadata(size_t max_bytes = 3500) const;
  // One past the highest offset this tracker knows of.
  int64_t known_end() const;

 private:
  int64_t start_ = 0;          // the committed offset at start
  int64_t next_ = 0;           // consumer position: offsets below were read
  std::set<int64_t> pending_;  // held offsets
  std::set<int64_t> early_;    // produced here, not yet read by the consumer
  int64_t restored_end_ = 0;   // from metadata: offsets below are done unless in...
  std::set<int64_t> restored_pending_;
};

}  // namespace ptp
