#include "gateway/rs/rs_host.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "codecs/json_depth.h"
#include "common/random_hex.h"
#include "common/token.h"
#include "common/unix_time.h"
#include "gateway/evidence/evidence_log.h"
#include "gateway/forward/source_tokens.h"
#include "gateway/observability/json_log.h"
#include "gateway/queue/queue_service.h"
#include "gateway/route/route_table.h"
#include "router/rs/job_spec.h"
#include "router/rs/rs_job.h"

namespace ptp {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using std::chrono::milliseconds;

// Jobs remembered as waiting for a slot, per job source; beyond that a job starts on its
// next message.
constexpr size_t kMaxDeferredJobsPerSource = 10000;
// Job ids whose refused specs (from nodes that are no job source) are counted until the job
// runs; the refusals are logged either way.
constexpr size_t kMaxRefusedJobs = 1024;
// Finished jobs whose status stays queryable (the outcome itself is kept in the inbox).
constexpr size_t kMaxFinishedJobs = 10000;
// Longest sleep of a waiting job between checks of its queues (also bounds shutdown).
constexpr milliseconds kPollCap{1000};
constexpr int64_t kTokenTtl = 300;

// The job thread was asked to stop (gateway shutdown).
struct Stopped {};

struct Popped {
  Status status;
  std::optional<QueuedMessage> msg;
};

Popped pop_now(QueueStore& store, const QueueKey& key) {
  std::promise<Popped> p;
  auto f = p.get_future();
  store.pop(key, milliseconds(0), [&p](Status s, std::optional<QueuedMessage> m) {
    p.set_value({std::move(s), std::move(m)});
  });
  return f.get();
}

Popped peek_now(QueueStore& store, const QueueKey& key) {
  std::promise<Popped> p;
  auto f = p.get_future();
  store.peek(key, [&p](Status s, std::optional<QueuedMessage> m) {
    p.set_value({std::move(s), std::move(m)});
  });
  return f.get();
}

Status release_now(QueueStore& store, const QueueKey& key) {
  std::promise<Status> p;
  auto f = p.get_future();
  store.release(key.node, key.session, key.topic, [&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

Status push_now(QueueStore& store, const QueueKey& key, QueuedMessage msg, milliseconds wait) {
  std::promise<Status> p;
  auto f = p.get_future();
  store.push(key, std::move(msg), wait, [&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// Topics this RS consumes; everything else (e.g. results addressed to a HE platform on the
// same node) is none of its business.
bool is_input_topic(std::string_view topic, const RouterServerConfig& rs) {
  if (topic == rs::kJobTopic || topic.starts_with(rs::kShareTopicPrefix)) return true;
  return topic == rs::kResultTopicB && rs.role == rs::Role::kA &&
         rs.combine_at == rs::CombineAt::kRsA;
}

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::string job_source_names(const RouterServerConfig& rs) {
  std::vector<std::string> names;
  for (const auto& [node, he] : rs.job_sources) names.push_back(node);
  return join(names);
}

}  // namespace

struct RsHost::Job {
  explicit Job(std::string job_id) : id(std::move(job_id)) {}
  const std::string id;

  std::mutex mu;  // guards everything below
  std::condition_variable cv;
  uint64_t wakeups = 0;  // bumped when a message for the job is stored
  std::atomic<bool> stop{false};
  std::string state = "waiting";
  std::string error;
  int64_t started_ms = unix_now_ms();  // when the job's first message was seen
  int64_t finished_ms = 0;             // delivered or failed (0: not yet)
  std::string source;                  // the node whose spec was accepted
  int parties = 0;                     // of the spec (0: no spec yet)
  int parties_received = 0;
  uint64_t elements = 0;
  uint64_t chunks = 0;
  uint64_t chunks_delivered = 0;
  uint64_t refused = 0;                  // messages refused (wrong sender, conflicting spec)
  std::string last_refusal;              // why the last one was refused
  std::set<std::string> topics;          // input topics seen
  Clock::time_point converting_since{};  // when the conversion began
  bool finished = false;                 // delivered or failed (read under RsHost::mu_)
  bool thread_done = false;              // under RsHost::mu_
  bool joined = false;                   // under RsHost::mu_: `thread` joined (or never started)
  std::thread thread;
  // The job source whose queued spec started the thread (set before it, then constant).
  std::string admitted_source;

  void wake() {
    {
      std::lock_guard lock(mu);
      ++wakeups;
    }
    cv.notify_all();
  }
  uint64_t wakeup_count() {
    std::lock_guard lock(mu);
    return wakeups;
  }
  // Sleeps until a new message was announced (wakeups != seen), the deadline, or the cap.
  void wait(uint64_t seen, Clock::time_point deadline) {
    std::unique_lock lock(mu);
    cv.wait_until(lock, std::min(deadline, Clock::now() + kPollCap),
                  [&] { return wakeups != seen || stop.load(); });
  }
  void set_state(std::string s) {
    std::lock_guard lock(mu);
    state = std::move(s);
  }
};

RsHost::RsHost(QueueStore& inbox, QueueService& queues, ConfigStore& config, JsonLog& log,
               unsigned workers)
    : inbox_(inbox),
      queues_(queues),
      config_(config),
      log_(log),
      pool_(workers),
      pending_(kMaxRefusedJobs, kMaxDeferredJobsPerSource),
      dispatcher_([this] { dispatch_loop(); }) {}

RsHost::~RsHost() { stop(); }

void RsHost::stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  dispatcher_.join();
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, job] : jobs_) all.push_back(job);
  }
  for (auto& job : all) {
    job->stop = true;
    job->cv.notify_all();
  }
  for (auto& job : all) {
    if (job->thread.joinable()) job->thread.join();
    std::lock_guard lock(mu_);
    job->joined = true;
  }
}

void RsHost::on_local_stored(const QueueKey& key) {
  if (!key.topic.starts_with("rs.")) return;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    events_.push_back(key);
  }
  cv_.notify_all();
}

void RsHost::dispatch_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, kPollCap, [this] { return stop_ || !events_.empty(); });
    while (!stop_ && !events_.empty()) {
      QueueKey key = std::move(events_.front());
      events_.pop_front();
      lock.unlock();
      try {
        handle_event(key);
      } catch (const std::exception& e) {
        log_.error(
            "router server: event failed",
            {.session_id = key.session, .extra = {{"topic", key.topic}, {"error", e.what()}}});
      }
      lock.lock();
    }
    lock.unlock();
    reap_finished();
    start_deferred();
    waiting_.store(pending_.deferred());
    lock.lock();
  }
}

RsHost::Occupancy RsHost::occupancy_locked() const {
  Occupancy o;
  for (const auto& [id, j] : jobs_) {
    if (j->finished) continue;
    ++o.total;
    ++o.by_source[j->admitted_source];
  }
  return o;
}

void RsHost::start_deferred() {
  while (true) {
    Occupancy occ;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      occ = occupancy_locked();
    }
    const RouterServerConfig& rsc = config_.current()->router_server;
    if (occ.total >= rsc.max_running_jobs) return;
    std::optional<QueueKey> key =
        pending_.next_deferred(occ.by_source, rsc.max_running_jobs_per_source);
    if (!key) return;
    try {
      handle_event(*key, /*deferred_turn=*/true);
    } catch (const std::exception& e) {
      log_.error("router server: event failed",
                 {.session_id = key->session, .extra = {{"error", e.what()}}});
    }
  }
}

std::optional<std::string> RsHost::job_source_of_queued_spec(const QueueKey& key,
                                                             const RouterServerConfig& rsc) {
  const QueueKey spec_key{key.node, key.session, std::string(rs::kJobTopic)};
  while (true) {
    Popped head = peek_now(inbox_, spec_key);
    if (!head.status.ok() || !head.msg) return std::nullopt;
    if (rsc.job_sources.count(head.msg->env.header.source_node_id))
      return head.msg->env.header.source_node_id;
    // A spec from a node that is no job source: refused here, before any job runs.
    Popped p = pop_now(inbox_, spec_key);
    if (!p.status.ok() || !p.msg) return std::nullopt;
    const std::string from = p.msg->env.header.source_node_id;
    if (rsc.job_sources.count(from)) {  // not the message peeked: give it back
      inbox_.nack(spec_key, p.msg->offset);
      return from;
    }
    wipe(p.msg->env.body);
    const std::string why = "job spec from node " + from + " refused: " + from +
                            " is not a job source of this router server "
                            "(router_server.job_sources: " +
                            job_source_names(rsc) + ")";
    log_.warn("router server: message refused",
              {.session_id = key.session,
               .source = from,
               .code = Code::kNotPermitted,
               .extra = {{"topic", std::string(rs::kJobTopic)}, {"reason", why}}});
    pending_.refused(key.session, why);
    inbox_.ack(spec_key, p.msg->offset);
  }
}

void RsHost::reap_finished() {
  // A thread marked done only has to return from run_job(): the join is short.
  std::lock_guard lock(mu_);
  for (auto& [id, job] : jobs_) {
    if (!job->thread_done || job->joined) continue;
    if (job->thread.joinable()) job->thread.join();
    job->joined = true;
  }
}

void RsHost::handle_event(const QueueKey& key, bool deferred_turn) {
  ConfigPtr cfg = config_.current();
  if (!is_input_topic(key.topic, cfg->router_server)) return;
  std::shared_ptr<Job> job;
  bool finished = false;
  {
    std::lock_guard lock(mu_);
    if (auto it = jobs_.find(key.session); it != jobs_.end()) {
      job = it->second;
      finished = job->finished;
      // Noted while the job cannot finish (that takes mu_): its end releases every topic
      // noted, and a message of a topic noted later finds the job finished (discard()).
      if (!finished) {
        std::lock_guard jl(job->mu);
        job->topics.insert(key.topic);
      }
    }
  }
  if (job && !finished) {
    job->wake();
    return;
  }
  if (job) return discard(key);
  // Not known in memory: a job that finished before a restart left its outcome here.
  Popped marker = peek_now(inbox_, {key.node, key.session, std::string(rs::kDoneTopic)});
  if (marker.msg) {
    job = std::make_shared<Job>(key.session);
    const std::string& text = marker.msg->env.body;
    Json j = json_depth_within(text) ? Json::parse(text, nullptr, false) : Json();
    if (j.is_object()) {
      job->state = j.value("state", "failed");
      job->error = j.value("error", "");
      job->elements = j.value("elements", uint64_t{0});
      job->parties_received = j.value("parties_received", 0);
      job->chunks = j.value("chunks", uint64_t{0});
      job->chunks_delivered = j.value("chunks_delivered", uint64_t{0});
      job->started_ms = j.value("started_ms", int64_t{0});
      job->finished_ms = j.value("finished_ms", int64_t{0});
      job->source = j.value("source", "");
      job->parties = j.value("parties", 0);
    }
    job->finished = true;
    job->thread_done = true;
    job->joined = true;
    {
      std::lock_guard lock(mu_);
      jobs_.emplace(key.session, job);
      finished_order_.push_back(key.session);
    }
    return discard(key);
  }
  // No thread before a job source specified the job: a party's messages for job ids nobody
  // started wait in the inbox (within the queue store's limits per source node) and tie up
  // nothing here; the spec's arrival starts the job, which then reads them.
  const RouterServerConfig& rsc = cfg->router_server;
  const std::optional<std::string> source = job_source_of_queued_spec(key, rsc);
  if (!source) {
    log_.info("router server: no job spec from a job source yet, the message waits in the queue",
              {.session_id = key.session, .extra = {{"topic", key.topic}}});
    return;
  }
  Occupancy occ;
  {
    std::lock_guard lock(mu_);
    occ = occupancy_locked();
  }
  const size_t of_source = occ.by_source[*source];
  const bool all_busy = occ.total >= rsc.max_running_jobs;
  const bool source_busy = of_source >= rsc.max_running_jobs_per_source;
  // The source's jobs start in their order: a new one waits behind those deferred before it.
  if (all_busy || source_busy || (!deferred_turn && pending_.has_deferred(*source))) {
    switch (pending_.defer(key, *source)) {
      case PendingJobs::Deferral::kDeferred:
        log_.warn(all_busy ? "router server: too many jobs in progress, the job waits in the queue"
                  : source_busy
                      ? "router server: too many jobs of this job source in progress, the job "
                        "waits in the queue"
                      : "router server: earlier jobs of this job source wait, the job waits "
                        "in the queue behind them",
                  {.session_id = key.session,
                   .source = *source,
                   .extra = {{"active_jobs", std::to_string(occ.total)},
                             {"active_jobs_of_source", std::to_string(of_source)}}});
        break;
      case PendingJobs::Deferral::kFull:
        log_.warn(
            "router server: too many jobs of this job source wait for a slot, the job "
            "starts on its next message",
            {.session_id = key.session, .source = *source});
        break;
      case PendingJobs::Deferral::kAlready:
        break;
    }
    return;
  }
  job = std::make_shared<Job>(key.session);
  job->admitted_source = *source;
  job->topics.insert(key.topic);
  if (PendingJobs::Refusals r = pending_.take_refusals(key.session); r.count) {
    job->refused = r.count;
    job->last_refusal = std::move(r.last);
  }
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    jobs_.emplace(key.session, job);
  }
  start_job(job);
}

void RsHost::start_job(const std::shared_ptr<Job>& job) {
  job->thread = std::thread([this, job] { run_job(job); });
}

// Drops what arrives for a finished job: a repeated spec, late or extra shares.
void RsHost::discard(const QueueKey& key) {
  size_t n = 0;
  std::set<std::string> sources;
  while (true) {
    Popped p = pop_now(inbox_, key);
    if (!p.msg) break;
    if (sources.size() < 8) sources.insert(p.msg->env.header.source_node_id);
    wipe(p.msg->env.body);
    inbox_.ack(key, p.msg->offset);
    ++n;
  }
  if (n == 0) return;
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    if (auto it = jobs_.find(key.session); it != jobs_.end()) job = it->second;
  }
  std::string state;
  if (job) {
    std::lock_guard lock(job->mu);
    state = job->state;
  }
  log_.warn(
      key.topic == rs::kJobTopic
          ? "router server: job spec for a job that already ran, ignored (not converted twice)"
          : "router server: message for a finished job dropped",
      {.session_id = key.session,
       .extra = {{"topic", key.topic},
                 {"messages", std::to_string(n)},
                 {"from", join({sources.begin(), sources.end()})},
                 {"state", state}}});
}

// One run of a job on its job thread, in phases: accept the spec, collect the shares,
// convert and deliver. The phases throw Stopped on shutdown, an exception when the job fails.
class RsHost::JobRun {
 public:
  JobRun(RsHost& h, std::shared_ptr<Job> j)
      : host(h),
        job(std::move(j)),
        cfg(h.config_.current()),
        rsc(cfg->router_server),
        self(cfg->node_id) {
    lf.session_id = job->id;
  }

  // 0. Shares stored before the spec started the job: their topics are checked like those
  //    of later ones (collect_shares). A store that cannot list its queues (E0000000400)
  //    leaves the check to the topics announced from now on. Every input topic queued
  //    (RS-B's halves too) is released when the job ends.
  void note_queued_topics() {
    std::promise<std::vector<QueueInfo>> p;
    auto f = p.get_future();
    host.inbox_.list_queues(
        {self, job->id, "", 1000},
        [&p](Status, std::vector<QueueInfo> queues, bool) { p.set_value(std::move(queues)); });
    std::vector<QueueInfo> queues = f.get();
    std::lock_guard lock(job->mu);
    for (const auto& q : queues)
      if (is_input_topic(q.key.topic, rsc)) job->topics.insert(q.key.topic);
  }

  // 1. The job spec.
  void accept_spec() {
    //    Only from a configured job source; a spec from any other node is refused and the job
    //    keeps waiting (whoever sends first does not decide the job).
    const Clock::time_point deadline = Clock::now() + rsc.job_timeout;
    std::optional<QueuedMessage> spec_msg;
    while (!spec_msg) {
      spec_msg = wait_pop(rs::kJobTopic, deadline);
      if (!spec_msg)
        throw std::runtime_error(
            "no job spec (topic rs.job) from a job source (router_server.job_sources: " +
            job_source_names(rsc) + ") arrived within " + seconds_text(rsc.job_timeout));
      const std::string& from = spec_msg->env.header.source_node_id;
      if (!rsc.job_sources.count(from)) {
        refuse(*spec_msg, rs::kJobTopic,
               "job spec from node " + from + " refused: " + from +
                   " is not a job source of this router server (router_server.job_sources: " +
                   job_source_names(rsc) + ")");
        spec_msg.reset();
      }
    }
    accepted_spec = spec_msg->env.body;
    spec_source = spec_msg->env.header.source_node_id;
    rs::JobSpec spec = rs::parse_job_spec(spec_msg->env.body);
    if (spec.job_id != job->id)
      throw std::invalid_argument("job spec: job_id " + spec.job_id +
                                  " differs from the session id " + job->id);
    // The HE node receives what decrypts to x: the job source must be entitled to name it.
    const std::vector<std::string>& he_nodes = rsc.job_sources.at(spec_source);
    if (std::find(he_nodes.begin(), he_nodes.end(), spec.he_node) == he_nodes.end())
      throw std::invalid_argument("job spec from node " + spec_source + ": he_node " +
                                  spec.he_node +
                                  " is not permitted for this job source "
                                  "(router_server.job_sources." +
                                  spec_source + ": " + join(he_nodes) + ")");
    lf.source = spec_source;
    rs::RsSettings settings;
    settings.role = rsc.role;
    settings.combine_at = rsc.combine_at;
    settings.max_message_bytes = cfg->queue.limits.max_message_bytes;
    rj = std::make_unique<rs::RsJob>(std::move(spec), settings);
    const rs::JobSpec& js = rj->spec();
    combine_here = rsc.combine_at == rs::CombineAt::kRsA && rsc.role == rs::Role::kA;
    to_peer = rsc.combine_at == rs::CombineAt::kRsA && rsc.role == rs::Role::kB;
    target = to_peer ? rsc.peer_rs_node : js.he_node;
    lf.target = target;
    if (target != self) {
      PtpHeader h;
      h.target_node_id = target;
      RouteDecision route = resolve_route(*cfg, h);
      if (route.kind != RouteDecision::Kind::kPeer)
        throw std::runtime_error("node " + target + " cannot be reached from node " + self +
                                 (route.kind == RouteDecision::Kind::kError
                                      ? ": " + route.error.message
                                      : std::string()));
    }
    {
      std::lock_guard lock(job->mu);
      job->elements = js.elements;
      job->chunks = rj->result_chunks();
      job->parties = js.parties;
      job->source = spec_source;
    }
    host.log_.info("router server: job started",
                   {.session_id = job->id,
                    .source = lf.source,
                    .target = target,
                    .extra = {{"role", std::string(1, rs::role_letter(rsc.role))},
                              {"parties", std::to_string(js.parties)},
                              {"ring_bits", std::to_string(js.ring_bits)},
                              {"elements", std::to_string(js.elements)},
                              {"combine_at", std::string(rs::combine_at_name(rsc.combine_at))},
                              {"key", rj->fingerprint()}}});
    if (host.evidence_)
      host.evidence_->append("audit", {{"event", "router_job"},
                                       {"job", job->id},
                                       {"source", spec_source},
                                       {"parties", join(js.party_nodes)},
                                       {"result_node", js.he_node},
                                       {"role", std::string(1, rs::role_letter(rsc.role))},
                                       {"combine_at", rs::combine_at_name(rsc.combine_at)},
                                       {"key_fingerprint", rj->fingerprint()}});
  }

  // 2. The shares, in any order, until every party sent its whole part.
  void collect_shares() {
    const rs::JobSpec& js = rj->spec();
    for (int p = 1; p <= js.parties; ++p) consumed_topics.insert(rs::share_topic(p));
    auto check_topics = [&] {
      std::lock_guard lock(job->mu);
      for (const auto& t : job->topics) {
        if (!t.starts_with(rs::kShareTopicPrefix)) continue;
        consumed_topics.insert(t);  // released at the end, whatever it is
        auto p = rs::party_of_topic(t);
        if (!p)
          throw std::invalid_argument("shares arrived on topic " + t +
                                      ", which names no party (rs.share.1 .. rs.share." +
                                      std::to_string(js.parties) + ")");
        if (*p > js.parties)
          throw std::invalid_argument("party " + std::to_string(*p) +
                                      " is not a party of this job (parties 1.." +
                                      std::to_string(js.parties) + ")");
      }
    };
    // Shares of party p count only from the node the spec names for it (party_nodes).
    auto from_party_node = [&](int party, QueuedMessage& m) {
      const std::string& from = m.env.header.source_node_id;
      const std::string& expected = js.party_nodes[static_cast<size_t>(party - 1)];
      if (from == expected) return true;
      refuse(m, rs::share_topic(party),
             "share of party " + std::to_string(party) + " from node " + from +
                 " refused: the job spec names node " + expected + " for party " +
                 std::to_string(party));
      return false;
    };
    auto take_share = [&](int party, QueuedMessage& m) {
      auto it = m.env.meta.find("message-code");
      rs::ChunkInfo info;
      try {
        info = rs::parse_chunk_info(it == m.env.meta.end() ? "" : it->second);
      } catch (const std::invalid_argument& e) {
        wipe(m.env.body);
        throw std::invalid_argument("party " + std::to_string(party) + ": " + e.what());
      }
      try {
        rj->add_share(party, info, m.env.body);
      } catch (...) {
        wipe(m.env.body);
        throw;
      }
      wipe(m.env.body);
    };
    const Clock::time_point deadline = Clock::now() + rsc.job_timeout;
    while (!rj->complete()) {
      check_topics();
      const uint64_t seen = job->wakeup_count();
      bool progress = false;
      for (int p = 1; p <= js.parties; ++p) {
        if (auto m = pop(rs::share_topic(p))) {
          if (from_party_node(p, *m)) take_share(p, *m);
          progress = true;
        }
      }
      check_more_specs();
      {
        std::lock_guard lock(job->mu);
        job->parties_received = rj->parties_complete();
      }
      if (progress || rj->complete()) continue;
      if (Clock::now() >= deadline)
        throw std::runtime_error(rj->missing() + " within " + seconds_text(rsc.job_timeout));
      job->wait(seen, deadline);
    }
    // Anything more from a party that is complete is a duplicate (a party sent twice).
    check_topics();
    for (int p = 1; p <= js.parties; ++p) {
      while (auto m = pop(rs::share_topic(p))) {
        if (!from_party_node(p, *m)) continue;
        take_share(p, *m);  // throws: every chunk of the party is there already
        throw std::invalid_argument("party " + std::to_string(p) + " sent more than its part");
      }
    }
    check_more_specs();
  }

  // 3. Encrypt (and combine), chunk by chunk, and deliver.
  void convert_and_deliver() {
    {
      std::lock_guard lock(job->mu);
      job->state = "converting";
      job->converting_since = Clock::now();
    }
    if (combine_here) consumed_topics.insert(std::string(rs::kResultTopicB));
    for (uint64_t c = 0; c < rj->result_chunks(); ++c) {
      std::vector<he::Ciphertext> cts = rj->encrypt_chunk(c, host.pool_, &job->stop);
      if (job->stop) throw Stopped{};
      if (combine_here) {
        const Clock::time_point half_deadline = Clock::now() + rsc.job_timeout;
        std::optional<QueuedMessage> half;
        while (!half) {
          half = wait_pop(rs::kResultTopicB, half_deadline);
          if (!half)
            throw std::runtime_error("RS-B (node " + rsc.peer_rs_node +
                                     ") delivered no half for chunk " + std::to_string(c) +
                                     " within " + seconds_text(rsc.job_timeout));
          if (half->env.header.source_node_id != rsc.peer_rs_node) {
            refuse(*half, rs::kResultTopicB,
                   "a half for chunk " + std::to_string(c) + " from node " +
                       half->env.header.source_node_id +
                       " refused: not from RS-B (router_server.peer_rs_node " + rsc.peer_rs_node +
                       ")");
            half.reset();
          }
        }
        auto it = half->env.meta.find("message-code");
        rs::ChunkInfo info = rs::parse_chunk_info(it == half->env.meta.end() ? "" : it->second);
        cts = rj->combine_chunk(c, cts, info, half->env.body);
        deliver(target, rs::kResultTopic, 'R', c, rs::RsJob::encode_result(cts));
      } else if (to_peer) {
        deliver(target, rs::kResultTopicB, 'B', c, rs::RsJob::encode_result(cts));
      } else {
        deliver(target, rsc.role == rs::Role::kA ? rs::kResultTopicA : rs::kResultTopicB,
                rs::role_letter(rsc.role), c, rs::RsJob::encode_result(cts));
      }
      {
        std::lock_guard lock(job->mu);
        job->chunks_delivered = c + 1;
      }
      check_more_specs();
    }
  }

  QueueKey key(std::string_view topic) const { return QueueKey{self, job->id, std::string(topic)}; }

  // Pops one message of `topic` if one is queued. Throws Stopped.
  std::optional<QueuedMessage> pop(std::string_view topic) {
    if (job->stop) throw Stopped{};
    QueueKey k = key(topic);
    Popped p = pop_now(host.inbox_, k);
    if (!p.status.ok())
      throw std::runtime_error("cannot read queue " + k.topic + ": " + p.status.to_string());
    if (p.msg) leases.emplace_back(k, p.msg->offset);
    return std::move(p.msg);
  }

  // Waits for a message of `topic` until `deadline`.
  std::optional<QueuedMessage> wait_pop(std::string_view topic, Clock::time_point deadline) {
    while (true) {
      const uint64_t seen = job->wakeup_count();
      if (auto m = pop(topic)) return m;
      if (Clock::now() >= deadline) return std::nullopt;
      job->wait(seen, deadline);
    }
  }

  // A message this job does not take from its sender (docs/router.md "Who may
  // start a job"): wiped, acknowledged at the end like the consumed ones,
  // logged and counted; the job goes on.
  void refuse(QueuedMessage& m, std::string_view topic, const std::string& why) {
    wipe(m.env.body);
    {
      std::lock_guard lock(job->mu);
      ++job->refused;
      job->last_refusal = why;
    }
    host.log_.warn("router server: message refused",
                   {.session_id = job->id,
                    .source = m.env.header.source_node_id,
                    .code = Code::kNotPermitted,
                    .extra = {{"topic", std::string(topic)}, {"reason", why}}});
  }

  // Specs after the first: the same one again (a retry) is ignored, anything
  // else refused.
  void check_more_specs() {
    while (auto m = pop(rs::kJobTopic)) {
      const std::string& from = m->env.header.source_node_id;
      if (!rsc.job_sources.count(from)) {
        refuse(*m, rs::kJobTopic,
               "job spec from node " + from + " refused: " + from +
                   " is not a job source of this router server "
                   "(router_server.job_sources: " +
                   job_source_names(rsc) + ")");
      } else if (m->env.body != accepted_spec) {
        refuse(*m, rs::kJobTopic,
               "conflicting job spec from node " + from + " refused: job " + job->id +
                   " already runs with the spec from node " + spec_source);
      } else {
        host.log_.info("router server: the job spec again, ignored",
                       {.session_id = job->id, .source = from});
      }
    }
  }

  void deliver(const std::string& target, std::string_view topic, char tag, uint64_t c,
               std::string payload) {
    Envelope env;
    auto& h = env.header;
    h.version = "1";
    h.tech_provider_code = std::string(rs::kProviderCode);
    h.trace_id = new_trace_id();
    h.session_id = job->id;
    h.source_node_id = self;
    h.source_inst_id = cfg->inst_id;
    h.target_node_id = target;
    // To a signature-mode target this node's s1 token, else a v1 token from its key.
    if (cfg->auth.enabled && auth_mode_for(*cfg, target) == AuthMode::kSignature) {
      if (Status st = tokens.apply(*cfg, h, unix_now()); !st.ok())
        throw std::runtime_error("delivery of chunk " + std::to_string(c) + " to node " + target +
                                 ": " + st.message);
    } else if (auto k = cfg->auth.node_keys.find(self); k != cfg->auth.node_keys.end()) {
      h.token =
          mint_token(k->second, self, target, job->id, unix_now() + kTokenTtl, cfg->auth.token_mac);
    }
    env.meta[std::string(kMessageTopicKey)] = std::string(topic);
    env.meta[std::string(kMessageIdKey)] = rs::result_message_id(job->id, tag, c);
    env.meta["message-code"] = rs::encode_chunk_info(rj->result_info(c));
    env.meta["job-id"] = job->id;
    env.body = std::move(payload);
    std::promise<Status> p;
    auto f = p.get_future();
    host.queues_.submit(*cfg, std::move(env), rsc.job_timeout,
                        [&p](Status s, const std::string&) { p.set_value(std::move(s)); });
    Status st = f.get();
    if (!st.ok())
      throw std::runtime_error("delivery of chunk " + std::to_string(c) + " to node " + target +
                               " failed: " + st.to_string());
  }

  RsHost& host;
  const std::shared_ptr<Job> job;
  const ConfigPtr cfg;
  const RouterServerConfig& rsc;
  const std::string self;
  std::vector<std::pair<QueueKey, uint64_t>> leases;  // consumed messages, acked at the end
  std::set<std::string> consumed_topics{std::string(rs::kJobTopic)};
  SourceTokens tokens;  // s1 tokens of the deliveries, per target (this job's thread)
  std::unique_ptr<rs::RsJob> rj;
  LogFields lf;
  std::string accepted_spec;  // body of the spec the job runs with
  std::string spec_source;
  std::string target;         // where the results go
  bool combine_here = false;  // RS-A combining RS-B's halves
  bool to_peer = false;       // RS-B sending its halves to RS-A
};

void RsHost::run_job(const std::shared_ptr<Job>& job) {
  running_.fetch_add(1);
  struct Running {
    std::atomic<uint64_t>& n;
    ~Running() { n.fetch_sub(1); }
  } running{running_};
  JobRun run(*this, job);
  const ConfigPtr& cfg = run.cfg;
  const std::string& self = run.self;
  auto& leases = run.leases;
  auto& rj = run.rj;
  const LogFields& lf = run.lf;
  auto key = [&](std::string_view topic) { return run.key(topic); };
  auto check_more_specs = [&] { run.check_more_specs(); };
  std::string error;
  bool stopped = false;
  try {
    run.note_queued_topics();
    run.accept_spec();
    run.collect_shares();
    run.convert_and_deliver();
  } catch (const Stopped&) {
    stopped = true;
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (rj) rj->wipe();

  if (stopped) {
    // Shutdown: give everything back; after a restart the job can run again.
    for (auto& [k, off] : leases) inbox_.nack(k, off);
    std::lock_guard lock(mu_);
    {
      std::lock_guard jl(job->mu);
      job->state = "failed";
      job->error = "the gateway stopped during the job";
    }
    job->thread_done = true;
    return;
  }
  // Finished from here on: new messages for the job are dropped by the dispatcher.
  {
    std::lock_guard lock(mu_);
    std::lock_guard jl(job->mu);
    job->state = error.empty() ? "delivered" : "failed";
    job->error = error;
    job->finished = true;
    job->finished_ms = unix_now_ms();
  }
  // Specs that came in since the last look are logged before their topic is released.
  if (!run.accepted_spec.empty()) {
    try {
      check_more_specs();
    } catch (const std::exception& e) {
      log_.warn("router server: cannot read the job's spec queue",
                {.session_id = job->id, .extra = {{"error", e.what()}}});
    } catch (const Stopped&) {
    }
  }
  for (auto& [k, off] : leases) inbox_.ack(k, off);
  // Every topic of the job goes, also those it never read (shares queued for a job whose
  // spec failed it): nothing of the job stays stored until its session expires.
  {
    std::lock_guard jl(job->mu);
    run.consumed_topics.insert(job->topics.begin(), job->topics.end());
  }
  for (const auto& t : run.consumed_topics) {
    Status st = release_now(inbox_, key(t));
    if (!st.ok())
      log_.warn("router server: cannot release a job topic",
                {.session_id = job->id, .extra = {{"topic", t}, {"error", st.to_string()}}});
  }
  Json outcome;
  int parties_received = 0;
  uint64_t elements = 0;
  {
    std::lock_guard jl(job->mu);
    if (error.empty()) {
      delivered_.fetch_add(1);
      elements_.fetch_add(job->elements);
      const double took =
          std::chrono::duration<double>(Clock::now() - job->converting_since).count();
      if (job->converting_since != Clock::time_point{} && took > 0)
        last_rate_.store(static_cast<double>(job->elements) / took);
    } else {
      failed_.fetch_add(1);
    }
    outcome = {{"state", job->state},           {"error", job->error},
               {"elements", job->elements},     {"parties_received", job->parties_received},
               {"chunks", job->chunks},         {"chunks_delivered", job->chunks_delivered},
               {"started_ms", job->started_ms}, {"finished_ms", job->finished_ms},
               {"source", job->source},         {"parties", job->parties}};
    parties_received = job->parties_received;
    elements = job->elements;
  }
  QueuedMessage marker;
  marker.message_id = "outcome";
  marker.env.header.session_id = job->id;
  marker.env.header.source_node_id = self;
  marker.env.header.target_node_id = self;
  marker.env.meta[std::string(kMessageTopicKey)] = std::string(rs::kDoneTopic);
  marker.env.body = outcome.dump();
  Status st =
      push_now(inbox_, key(rs::kDoneTopic), std::move(marker), cfg->queue.default_push_wait);
  if (!st.ok())
    log_.warn("router server: cannot record the job outcome",
              {.session_id = job->id, .extra = {{"error", st.to_string()}}});
  if (error.empty()) {
    log_.info("router server: job delivered",
              {.session_id = job->id,
               .source = lf.source,
               .target = lf.target,
               .extra = {{"elements", std::to_string(elements)},
                         {"parties", std::to_string(parties_received)}}});
  } else {
    log_.error("router server: job failed, nothing more is delivered",
               {.session_id = job->id,
                .source = lf.source,
                .target = lf.target,
                .extra = {{"error", error}}});
  }
  std::lock_guard lock(mu_);
  job->thread_done = true;
  finished_order_.push_back(job->id);
  while (finished_order_.size() > kMaxFinishedJobs) {
    auto it = jobs_.find(finished_order_.front());
    // Its thread is joined here or by reap_finished(); only forget jobs whose thread is gone.
    // A job whose thread is not joined yet (by reap_finished()) is forgotten later.
    if (it != jobs_.end() && !it->second->joined) break;
    if (it != jobs_.end()) jobs_.erase(it);
    finished_order_.pop_front();
  }
  cv_.notify_all();  // let the dispatcher join this thread
}

namespace {

// A job as GET /rs/jobs[/<id>] shows it.
Json job_json(RsHost::Job& job) {
  std::lock_guard lock(job.mu);
  return {{"job_id", job.id},
          {"state", job.state},
          {"error", job.error},
          {"source", job.source},
          {"parties", job.parties},
          {"parties_received", job.parties_received},
          {"elements", job.elements},
          {"chunks", job.chunks},
          {"chunks_delivered", job.chunks_delivered},
          {"refused", job.refused},
          {"last_refusal", job.last_refusal},
          {"started_ms", job.started_ms},
          {"finished_ms", job.finished_ms}};
}

}  // namespace

RsHost::JobCounts RsHost::job_counts() const {
  return {running_.load(), waiting_.load(),  delivered_.load(),
          failed_.load(),  elements_.load(), last_rate_.load()};
}

std::pair<unsigned, std::string> RsHost::status(std::string_view job_id) const {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    if (auto it = jobs_.find(std::string(job_id)); it != jobs_.end()) job = it->second;
  }
  if (!job) {
    Json j = {{"error", "unknown job " + std::string(job_id.substr(0, 200))}};
    return {404, j.dump(-1, ' ', false, Json::error_handler_t::replace)};
  }
  return {200, job_json(*job).dump(-1, ' ', false, Json::error_handler_t::replace)};
}

std::pair<unsigned, std::string> RsHost::list(size_t limit) const {
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard lock(mu_);
    all.reserve(jobs_.size());
    for (const auto& [id, job] : jobs_) all.push_back(job);
  }
  std::vector<std::pair<int64_t, Json>> rows;
  rows.reserve(all.size());
  for (const auto& job : all) {
    Json j = job_json(*job);
    const int64_t started = j["started_ms"].get<int64_t>();
    rows.emplace_back(started, std::move(j));
  }
  // The newest `limit`, oldest first.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const bool truncated = rows.size() > limit;
  Json jobs = Json::array();
  for (size_t i = truncated ? rows.size() - limit : 0; i < rows.size(); ++i)
    jobs.push_back(std::move(rows[i].second));
  Json out = {{"jobs", std::move(jobs)}, {"truncated", truncated}};
  return {200, out.dump(-1, ' ', false, Json::error_handler_t::replace)};
}

}  // namespace ptp
