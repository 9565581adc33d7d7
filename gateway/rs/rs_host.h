// The router server (RS) hosted by the gateway (docs/router.md): runs the conversion jobs
// (router/rs/rs_job.h) whose messages arrive in this node's inbox, and delivers the
// encrypted halves through QueueService::submit (so through the outbox, like any push).
//
// - QueueService's on_local_stored hook tells the host of every message stored for this
//   node; topics starting with "rs." concern jobs (session id = job id). A job thread starts
//   only once a spec from a job source is queued for the job: shares that come first wait in
//   the inbox without a thread (so a party cannot tie up the host with made-up job ids), and
//   a spec at the head of the queue from a node that is no job source is refused there.
// - A job thread pops the job spec ("rs.job") and the share chunks ("rs.share.<party>") from
//   the inbox itself (never on an I/O thread), holding them leased; it waits at most
//   router_server.job_timeout_s for the shares. At most router_server.max_running_jobs
//   (256) run at once, and at most router_server.max_running_jobs_per_source of one job
//   source; a job specified beyond that waits (PendingJobs) and starts when a slot frees
//   that its source may take, in order per source. Encryption runs on a WorkerPool of
//   router_server.workers threads shared by all jobs.
// - Authorization (docs/router.md "Who may start a job and send shares"): the job takes its
//   spec only from a node of router_server.job_sources (and only an HE node that source may
//   name), shares of party i only from the spec's party_nodes[i-1], RS-B's half (rs_a) only
//   from peer_rs_node. Anything else, and a second spec that differs from the first, is
//   refused: wiped, logged with E0000000614, counted in the status; the job goes on.
// - At the end the consumed messages are acknowledged, the job's topics released (so no
//   share material is left queued), and the outcome recorded in the inbox (topic
//   "~rs.done" of the job's session): a job id seen again — a repeated spec, late shares —
//   is never converted twice, even after a restart. Messages that arrive for a finished job
//   are dropped.
// - A job interrupted by a shutdown gives its leased messages back (nack): after a restart
//   the spec and shares are queued again, and the next message for the job (a late share,
//   the spec sent again) runs it.
// - Status: GET /rs/jobs/<job_id> on the admin port (status()); every job it knows: GET
//   /rs/jobs (list()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/queue/queue_store.h"
#include "gateway/config/config_store.h"
#include "gateway/rs/pending_jobs.h"
#include "router/rs/worker_pool.h"

namespace ptp {

// GET /rs/jobs lists at most this many jobs (the newest).
inline constexpr size_t kRsJobsListed = 1000;

class JsonLog;
class QueueService;
class EvidenceLog;

class RsHost {
 public:
  // `workers` encryption threads (0: one per core). Everything passed must outlive the host.
  RsHost(QueueStore& inbox, QueueService& queues, ConfigStore& config, JsonLog& log,
         unsigned workers);
  ~RsHost();  // stop()s
  RsHost(const RsHost&) = delete;
  RsHost& operator=(const RsHost&) = delete;

  // Jobs started are recorded there (audit event router_job, docs/evidence.md); call before
  // the first job arrives.
  void set_evidence(EvidenceLog* evidence) { evidence_ = evidence; }

  // QueueService's on_local_stored hook. Quick, never blocks on I/O.
  void on_local_stored(const QueueKey& key);

  // {HTTP status, JSON} for GET /rs/jobs/<job_id>: 200 with {"job_id", "state" (waiting,
  // converting, delivered, failed), "error", "parties_received", "elements", ...}, or 404
  // with {"error": "unknown job <id>"}.
  std::pair<unsigned, std::string> status(std::string_view job_id) const;

  // {HTTP status, JSON} for GET /rs/jobs: {"jobs":[...], "truncated": bool}, each job as
  // status() shows it (plus "source", "parties", "started_ms", "finished_ms"), the newest
  // `limit` of those known (running, and finished ones kept: kMaxFinishedJobs, or read
  // back from the inbox after a restart when a message for them arrived), oldest first.
  std::pair<unsigned, std::string> list(size_t limit) const;

  // Stops job threads (their leased messages go back to the queues) and the dispatcher.
  void stop();

  // For metrics (gateway/rs/rs_metrics.h); thread-safe. Counts since start.
  struct JobCounts {
    uint64_t running = 0;                 // job threads now (waiting for input or converting)
    uint64_t waiting = 0;                 // jobs deferred: no slot (or their source's) free yet
    uint64_t delivered = 0;               // jobs that delivered their result
    uint64_t failed = 0;                  // jobs that failed (not those a shutdown interrupted)
    uint64_t elements = 0;                // elements of the delivered jobs
    double last_elements_per_second = 0;  // of the last delivered job's conversion
  };
  JobCounts job_counts() const;

  struct Job;  // public for the .cpp's helpers

 private:
  void dispatch_loop();
  // `deferred_turn`: the job was deferred and start_deferred() chose it.
  void handle_event(const QueueKey& key, bool deferred_turn = false);
  // The job source whose spec heads the job's spec queue (specs of other nodes before it
  // are refused and dropped); none when no job source's spec is queued.
  std::optional<std::string> job_source_of_queued_spec(const QueueKey& key,
                                                       const RouterServerConfig& rs);
  struct Occupancy {
    size_t total = 0;                         // jobs not finished
    std::map<std::string, size_t> by_source;  // of them, by the job source that started them
  };
  Occupancy occupancy_locked() const;  // under mu_
  void start_deferred();
  void start_job(const std::shared_ptr<Job>& job);
  class JobRun;  // one run of a job, in phases (the .cpp)
  void run_job(const std::shared_ptr<Job>& job);
  void discard(const QueueKey& key);
  void reap_finished();

  QueueStore& inbox_;
  QueueService& queues_;
  ConfigStore& config_;
  JsonLog& log_;
  EvidenceLog* evidence_ = nullptr;
  rs::WorkerPool pool_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<QueueKey> events_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // by job id
  std::deque<std::string> finished_order_;            // to bound the finished jobs kept
  PendingJobs pending_;                               // jobs without a thread (dispatcher only)
  std::thread dispatcher_;
  std::atomic<uint64_t> running_{0}, delivered_{0}, failed_{0}, elements_{0};
  std::atomic<uint64_t> waiting_{0};  // pending_.deferred(), for scrapes on other threads
  std::atomic<double> last_rate_{0};
};

}  // namespace ptp
