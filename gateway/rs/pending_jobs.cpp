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

bool PendingJobs::defer(const QueueKey& key) {
  if (deferred_.size() >= max_deferred_ || deferred_ids_.count(key.session)) return false;
  deferred_ids_.insert(key.session);
  deferred_.push_back(key);
  return true;
}

std::optional<QueueKey> PendingJobs::next_deferred() {
  if (deferred_.empty()) return std::nullopt;
  QueueKey key = std::move(deferred_.front());
  deferred_.pop_front();
  deferred_ids_.erase(key.session);
  return key;
}

}  // namespace ptp
