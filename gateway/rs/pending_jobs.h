// What the router server host (gateway/rs/rs_host.h) keeps of jobs that have no job thread
// yet (docs/router.md "The router server in the gateway"). A job thread starts only once a
// spec from a job source is queued for it; until then its messages wait in the inbox and
// nothing here grows per message:
// - refusals: specs from nodes that are no job source, refused before the job ran, counted
//   per job id so the job's status shows them once it runs (at most `max_refused_jobs` job
//   ids, the oldest forgotten first: their log lines stay);
// - deferred: jobs whose spec from a job source arrived while the host ran its maximum of
//   jobs, or that job source its maximum (router_server.max_running_jobs_per_source). Kept
//   per job source, in arrival order; a free slot goes to the longest deferred job of the
//   source that runs the fewest jobs among those below their maximum, so a job source at its
//   maximum holds back only its own jobs (at most `max_deferred_per_source` per source; a job
//   beyond that starts on its next message). Only the queue key is kept: the spec and shares
//   stay in the inbox until the job runs.
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
  PendingJobs(size_t max_refused_jobs, size_t max_deferred_per_source)
      : max_refused_jobs_(max_refused_jobs), max_deferred_per_source_(max_deferred_per_source) {}

  struct Refusals {
    uint64_t count = 0;
    std::string last;  // why the last one was refused
  };
  void refused(const std::string& job_id, std::string why);
  // The job's refusals so far, forgotten here (the job's status takes them over).
  Refusals take_refusals(const std::string& job_id);
  size_t refused_jobs() const { return refusals_.size(); }

  enum class Deferral { kDeferred, kAlready, kFull };
  // kAlready when the job is deferred already, kFull when `source` has
  // `max_deferred_per_source` deferred jobs.
  Deferral defer(const QueueKey& key, const std::string& source);
  bool has_deferred(const std::string& source) const { return by_source_.count(source) > 0; }
  // The job to start in a free slot, no longer deferred: of the sources whose running jobs
  // (`running`, by source; absent: none) are below `per_source_max`, the one running the
  // fewest (a tie: the one whose longest deferred job came first), its longest deferred job.
  // None when no deferred job's source is below its maximum.
  std::optional<QueueKey> next_deferred(const std::map<std::string, size_t>& running,
                                        size_t per_source_max);
  size_t deferred() const { return deferred_ids_.size(); }

 private:
  const size_t max_refused_jobs_;
  const size_t max_deferred_per_source_;
  std::map<std::string, Refusals> refusals_;
  std::deque<std::string> refusal_order_;  // job ids of refusals_, oldest first
  struct Deferred {
    uint64_t arrival = 0;  // order among all deferred jobs
    QueueKey key;
  };
  std::map<std::string, std::deque<Deferred>> by_source_;  // no empty deques
  std::set<std::string> deferred_ids_;                     // job ids of by_source_
  uint64_t arrivals_ = 0;
};

}  // namespace ptp
