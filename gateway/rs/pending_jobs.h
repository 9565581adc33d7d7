// What the router server host (gateway/rs/rs_host.h) keeps of jobs that have no job thread
// yet (docs/router.md "The router server in the gateway"). A job thread starts only once a
// spec from a job source is queued for it; until then its messages wait in the inbox and
// nothing here grows per message:
// - refusals: specs from nodes that are no job source, refused before the job ran, counted
//   per job id so the job's status shows them once it runs (at most `max_refused_jobs` job
//   ids, the oldest forgotten first: their log lines stay);
// - deferred: jobs whose spec from a job source arrived while the host ran its maximum of
//   jobs, started in arrival order as jobs end (at most `max_deferred`; a job beyond that
//   starts on its next message).
// Not thread-safe: the host's dispatcher thread is its only user.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "adapters/queue/queue_store.h"

namespace ptp {

class PendingJobs {
 public:
  PendingJobs(size_t max_refused_jobs, size_t max_deferred)
      : max_refused_jobs_(max_refused_jobs), max_deferred_(max_deferred) {}

  struct Refusals {
    uint64_t count = 0;
    std::string last;  // why the last one was refused
  };
  void refused(const std::string& job_id, std::string why);
  // The job's refusals so far, forgotten here (the job's status takes them over).
  Refusals take_refusals(const std::string& job_id);
  size_t refused_jobs() const { return refusals_.size(); }

  // False when the job is deferred already or `max_deferred` are.
  bool defer(const QueueKey& key);
  // The longest deferred job, no longer deferred.
  std::optional<QueueKey> next_deferred();
  size_t deferred() const { return deferred_.size(); }

 private:
  const size_t max_refused_jobs_;
  const size_t max_deferred_;
  std::map<std::string, Refusals> refusals_;
  std::deque<std::string> refusal_order_;  // job ids of refusals_, oldest first
  std::deque<QueueKey> deferred_;
  std::set<std::string> deferred_ids_;
};

}  // namespace ptp
