#include "adapters/queue/kafka/kafka_offset_tracker.h"

#include <algorithm>
#include <charconv>

namespace ptp {
namespace {

bool next_number(std::string_view& s, int64_t& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc()) return false;
  s.remove_prefix(static_cast<size_t>(p - s.data()));
  return true;
}

}  // namespace

void KafkaOffsetTracker::start(int64_t committed, std::string_view metadata) {
  next_ = start_ = std::max<int64_t>(committed, 0);
  pending_.clear();
  early_.clear();
  restored_end_ = 0;
  restored_pending_.clear();
  if (!metadata.starts_with("v1 ")) return;
  metadata.remove_prefix(3);
  int64_t end = 0;
  if (!next_number(metadata, end) || end <= next_) return;
  std::set<int64_t> owed;
  int64_t o = 0;
  while (next_number(metadata, o)) {
    if (o < next_ || o >= end) return;
    owed.insert(o);
  }
  if (!metadata.empty()) return;
  restored_end_ = end;
  restored_pending_ = std::move(owed);
}

bool KafkaOffsetTracker::consume(int64_t offset) {
  if (offset < start_) return false;
  next_ = std::max(next_, offset + 1);
  if (early_.erase(offset)) return false;
  if (offset < restored_end_) return restored_pending_.erase(offset) > 0;
  return true;
}

bool KafkaOffsetTracker::produced(int64_t offset) {
  if (offset < next_) return false;
  early_.insert(offset);
  return true;
}

int64_t KafkaOffsetTracker::commit_offset() const {
  int64_t c = next_;
  // Our own records just past the consumer position are known without reading them: a run
  // of them counts like read ones. (After fetch errors the consumer can lag far behind the
  // delivery reports; stopping at its position left every ack in the metadata.) A gap is
  // a record not produced here, unknown until read.
  for (auto it = early_.find(c); it != early_.end() && *it == c; ++it) ++c;
  // Restored offsets still owed are all unread (>= next_), so they never lower it.
  if (!pending_.empty()) c = std::min(c, *pending_.begin());
  return c;
}

int64_t KafkaOffsetTracker::known_end() const {
  int64_t e = std::max(next_, restored_end_);
  if (!early_.empty()) e = std::max(e, *early_.rbegin() + 1);
  return e;
}

std::string KafkaOffsetTracker::commit_metadata(size_t max_bytes) const {
  const int64_t from = commit_offset();
  int64_t end = known_end();
  if (end <= from) return {};
  // Owed offsets in [from, end): held ones, restored ones the consumer has not re-read, and
  // offsets past the consumer position that were not produced here (unknown records).
  std::set<int64_t> owed(pending_.lower_bound(from), pending_.end());
  owed.insert(restored_pending_.begin(), restored_pending_.end());
  for (int64_t o = std::max(next_, restored_end_); o < end; ++o) {
    if (owed.size() >= max_bytes / 2) {
      end = o;  // too many to describe: the rest is redelivered after a restart
      break;
    }
    if (!early_.count(o)) owed.insert(o);
  }
  std::string list;
  for (int64_t o : owed) {
    if (o >= end) break;
    std::string item = " " + std::to_string(o);
    // "v1 " + end + list must fit; cut the description at the first offset that does not.
    if (3 + 20 + list.size() + item.size() > max_bytes) {
      end = o;
      break;
    }
    list += item;
  }
  if (end <= from) return {};
  return "v1 " + std::to_string(end) + list;
}

}  // namespace ptp
