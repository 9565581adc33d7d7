#include "gateway/rs/pending_jobs.h"

#include <algorithm>
#include <utility>

namespace ptp {

void PendingJobs::refused(const std::string& job_id, std::string why) {
  if (max_refused_jobs_ == 0) return;
  auto [it, added] = refusals_.try_emplace(job_id);
  ++it->second.count;
  it->second.last = std::move(why);
  if (!added) return;
  refusal_order_.push_back(job_id);
  while (refusals_.size() > max_refused_jobs_) {
    refusals_.erase(refusal_order_.front());
    refusal_order_.pop_front();
  }
}

PendingJobs::Refusals PendingJobs::take_refusals(const std::string& job_id) {
  auto it = refusals_.find(job_id);
  if (it == refusals_.end()) return {};
  Refusals out = std::move(it->second);
  refusals_.erase(it);
  refusal_order_.erase(std::find(refusal_order_.begin(), refusal_order_.end(), job_id));
  return out;
}

PendingJobs::Deferral PendingJobs::defer(const QueueKey& key, const std::string& source) {
  if (deferred_ids_.count(key.session)) return Deferral::kAlready;
  auto it = by_source_.find(source);
  const size_t queued = it == by_source_.end() ? 0 : it->second.size();
  if (queued >= max_deferred_per_source_) return Deferral::kFull;
  deferred_ids_.insert(key.session);
  by_source_[source].push_back({arrivals_++, key});
  return Deferral::kDeferred;
}

std::optional<QueueKey> PendingJobs::next_deferred(const std::map<std::string, size_t>& running,
                                                   size_t per_source_max) {
  auto best = by_source_.end();
  size_t best_running = 0;
  for (auto it = by_source_.begin(); it != by_source_.end(); ++it) {
    auto r = running.find(it->first);
    const size_t n = r == running.end() ? 0 : r->second;
    if (n >= per_source_max) continue;
    if (best == by_source_.end() || n < best_running ||
        (n == best_running && it->second.front().arrival < best->second.front().arrival)) {
      best = it;
      best_running = n;
    }
  }
  if (best == by_source_.end()) return std::nullopt;
  QueueKey key = std::move(best->second.front().key);
  best->second.pop_front();
  if (best->second.empty()) by_source_.erase(best);
  deferred_ids_.erase(key.session);
  return key;
}

}  // namespace ptp
