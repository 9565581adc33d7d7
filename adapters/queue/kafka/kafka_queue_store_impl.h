// The Kafka queue store's inside (kafka_queue_store.h): the state and the functions of its
// three threads, one file each: kafka_queue_store.cpp (open, the entry points and the
// operations under the lock), kafka_queue_store_producer.cpp (delivery reports),
// kafka_queue_store_consumer.cpp (indexing records, expiry, commits),
// kafka_queue_store_service.cpp (attaching node topics, sweeps). Included only by those.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/queue/dedup_window.h"
#include "adapters/queue/kafka/kafka_client.h"
#include "adapters/queue/kafka/kafka_first_headers.h"
#include "adapters/queue/kafka/kafka_offset_tracker.h"
#include "adapters/queue/kafka/kafka_queue_store.h"
#include "adapters/queue/kafka/kafka_record.h"
#include "adapters/queue/queue_bookkeeping.h"
#include "adapters/queue/queue_status.h"

namespace ptp {
namespace kafka_store_detail {

using Clock = std::chrono::steady_clock;
using SessionKey = std::pair<std::string, std::string>;  // node, session
using PartitionId = std::pair<std::string, int32_t>;     // Kafka topic, partition
using Callbacks = std::vector<std::function<void()>>;

using queue_bookkeeping::unix_now;

inline std::string num(uint64_t v) { return std::to_string(v); }
using queue_status::check_key;

// Control records (compacted topic): key "S\0<session>" or "T\0<session>\0<topic>",
// value "<unix time>" or "<unix time> <partition> <last dropped offset>".
inline std::string control_key(const std::string& session,
                               const std::optional<std::string>& topic) {
  std::string k = topic ? "T" : "S";
  k += '\0';
  k += session;
  if (topic) {
    k += '\0';
    k += *topic;
  }
  return k;
}

// A produce in flight; librdkafka holds it (as the message opaque) until its delivery
// report. The payload is sent from msg.env.body without a copy.
struct Produce {
  QueueKey key;
  QueuedMessage msg;
  uint64_t bytes = 0;
  std::vector<QueueStore::Done> done;  // the push, and identical pushes made meanwhile
  bool control = false;                // a release record
};

}  // namespace kafka_store_detail

using namespace kafka_store_detail;  // as the anonymous namespace was

class KafkaQueueStore::Impl {
 public:
  explicit Impl(KafkaQueueOptions opts) : opts_(std::move(opts)) {
    if (opts_.group_id.empty()) opts_.group_id = opts_.topic_prefix + ".replicas";
  }

  Status open();

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    service_cv_.notify_all();
    if (service_thread_.joinable()) service_thread_.join();
    if (consumer_thread_.joinable()) consumer_thread_.join();
    if (consumer_) {
      // An async commit still under way (or waiting for librdkafka's retry) would land
      // after the final one and put older positions back: let it finish first.
      const auto settle = Clock::now() + std::chrono::seconds(5);
      while (commit_in_flight() && Clock::now() < settle)
        if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 50))
          rd_kafka_message_destroy(m);  // only serves on_commit; nothing is indexed now
      // A clean shutdown commits what was acknowledged, so nothing acked comes back. After
      // coordinator errors librdkafka needs a moment to find the coordinator again, so
      // retry for a few seconds rather than a few times.
      const auto deadline = Clock::now() + std::chrono::seconds(5);
      while (!commit(true) && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      rd_kafka_consumer_close(consumer_.get());
    }
    if (producer_) {
      if (rd_kafka_flush(producer_.get(), 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(producer_.get(), 1000);  // serves the purged delivery reports
      }
    }
    stop_producer_ = true;
    if (producer_thread_.joinable()) producer_thread_.join();
    // Callbacks run exactly once: answer whatever still waits.
    Callbacks cbs;
    {
      std::lock_guard lock(mu_);
      for (auto& [t, w] : waiters_)
        cbs.push_back([d = std::move(w.done)] { d(Status::Ok(), std::nullopt); });
      waiters_.clear();
      for (auto& b : blocked_) cbs.push_back([d = std::move(b.done)] { d(closed_status()); });
      blocked_.clear();
      for (auto& [name, n] : nodes_)
        for (auto& op : n.pending) op(cbs, closed_status());
      nodes_.clear();
    }
    for (auto& f : cbs) f();
  }

  // --- entry points ----------------------------------------------------------------------

  void push(const QueueKey& key, QueuedMessage msg, std::chrono::milliseconds wait, Done done);

  uint64_t pop(const QueueKey& key, std::chrono::milliseconds timeout, MessageDone done);

  void cancel_pop(uint64_t ticket);

  void ack(const QueueKey& key, uint64_t offset);

  void nack(const QueueKey& key, uint64_t offset);

  void peek(const QueueKey& key, MessageDone done);

  void release(const std::string& node, const std::string& session,
               std::optional<std::string> topic, Done done);

  // Looked up (a metadata request) when first asked, not at every open: only the store
  // behind the outbox is asked, right after opening. Immutable afterwards.
  const std::vector<std::string>& nodes_at_open() const;

  void queues_of(const std::string& node, KeysDone done);

  void served_topic(const std::string& node, const std::string& session, std::string base,
                    TopicDone done);

  QueueStats stats() const;
  size_t index_entries() const {
    std::lock_guard lock(mu_);
    return queues_.size() + sessions_.size();
  }

 private:
  // The nodes whose data topics exist: a plain node id is read back from its topic's name;
  // a topic named by a digest (kafka_node_component) or shortened gets its node from the
  // ptp-queue-node header of one of its records (kafka_first_headers; a topic without
  // records has nothing to resume). Without metadata (broker down) the list is empty.
  void find_nodes_at_open() const;

  using NodeOp = std::function<void(Callbacks&, const Status&)>;

  struct Queue {
    std::map<int64_t, QueuedMessage> ready;              // by Kafka offset: FIFO
    std::map<int64_t, QueuedMessage> leased;             // handed out, not yet acked
    std::unordered_map<std::string, int64_t> ids;        // indexed messages by id
    std::unordered_map<std::string, Produce*> inflight;  // pushes awaiting delivery
    std::deque<uint64_t> waiters;
  };
  using Session = queue_bookkeeping::Session;  // bytes: indexed + in flight
  using Waiter = queue_bookkeeping::Waiter;
  using Blocked = queue_bookkeeping::Blocked;
  struct Node {
    bool ready = false;
    std::string data_topic, control_topic;
    int32_t partitions = 0;
    std::set<PartitionId> awaiting_eof;  // not yet read to the end since attaching
    std::vector<NodeOp> pending;         // operations waiting for the node to be ready
    Clock::time_point deadline;
  };
  struct Partition {
    std::string node;
    KafkaOffsetTracker tracker;
    int64_t sent_offset = -1;  // last commit sent
    std::string sent_meta;
  };
  struct TopicRelease {
    int64_t upto = -1;  // records of the queue at or below this offset are dropped
    int64_t at = 0;
  };

  static Status closed_status();
  static void answer(Callbacks& cbs, Done done, Status st);

  // Runs op under the lock once the key's node topic is attached and caught up.
  void with_node(const std::string& node, NodeOp op);

  // --- operations, under the lock --------------------------------------------------------

  bool released(const QueueKey& k);

  int32_t partition_of(const QueueKey& k) const;
  bool owns(int32_t partition) const;
  // OK when this replica owns the queue's partition, else E0000000607 naming the owner.
  Status owner_check(const QueueKey& k) const;

  // pop/peek: the session is alive and this replica serves the queue's partition.
  Status serve_check(const QueueKey& k);

  void touch(const QueueKey& k) { sessions_[{k.node, k.session}].touched = Clock::now(); }

  void touch_if_known(const QueueKey& k) {
    if (auto s = sessions_.find({k.node, k.session}); s != sessions_.end())
      s->second.touched = Clock::now();
  }

  // OK when one more message `m` of queue `k` charged `bytes` has room: its session, the
  // store, its source's and its target's shares (queue_status::room); else E0000000700
  // naming the limit reached. Adds nothing to sessions_ (a refused push leaves nothing).
  Status room_for(const QueueKey& k, const QueuedMessage& m, uint64_t bytes) const;
  const Session& session_of(const QueueKey& k) const;
  // One message `m` (bytes > 0) in or out (bytes < 0) of the counts it is charged to: its
  // session's, the store's and its source's and target's shares.
  void count(const QueueKey& k, const QueuedMessage& m, int64_t bytes);

  void do_push(const QueueKey& key, QueuedMessage msg, Clock::time_point deadline, Done done,
               Callbacks& cbs);

  void produce(const QueueKey& key, QueuedMessage msg, Done done, Callbacks& cbs);

  void do_release(const QueueKey& key, const std::optional<std::string>& topic, Done done,
                  Callbacks& cbs);

  // Drops the session (or the topic's queue up to `upto`); also run for control records.
  void apply_release(const QueueKey& key, bool topic_only, int64_t upto, int64_t at,
                     Callbacks& cbs);

  // Forgets an indexed message: its offset is done, its bytes free.
  void drop_message(const QueueKey& k, Queue& q, const QueuedMessage& m);

  // Makes a record visible in its queue (from the consumer or our own delivery report).
  void index(const QueueKey& key, QueuedMessage msg, Partition& part, int64_t offset,
             Callbacks& cbs);

  void forget_ticket(const QueueKey& key, uint64_t ticket);

  void serve_waiters(const QueueKey& key, Callbacks& cbs);

  void retry_blocked(Callbacks& cbs);

  // --- producer thread ---------------------------------------------------------------------

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);

  void delivered(std::unique_ptr<Produce> p, rd_kafka_resp_err_t err, int32_t partition,
                 int64_t offset);

  // --- consumer thread ---------------------------------------------------------------------

  void consume_loop();

  void handle(const rd_kafka_message_t* m);

  // A record done before the restart: its id joins the dedup window for the rest of
  // the window, counted from the record's timestamp.
  void remember_done(const QueueKey& key, const std::string& id, const rd_kafka_message_t* m);

  void control_record(const std::string& node, const rd_kafka_message_t* m, Callbacks& cbs);

  // A partition was read to its end; a node whose partitions all were is ready.
  void reached_end(const PartitionId& pid, Callbacks& cbs);

  void expire();

  // Commits changed positions of owned partitions, async from the consumer thread; at
  // shutdown (`final`) every position, synchronously. False when a final commit failed.
  bool commit(bool final);

  // A failed commit is sent again on the next round.
  void forget_sent(const rd_kafka_topic_partition_list_t* list);

  bool commit_in_flight() const {
    std::lock_guard lock(mu_);
    return commit_in_flight_;
  }

  static void on_commit(rd_kafka_t*, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* offsets, void* opaque);

  // --- service thread: attaching node topics, sweeping ------------------------------------

  void service_loop();

  // Blocking: creates/looks up the node's topics, reads committed offsets, assigns the
  // owned partitions. The node becomes ready when the consumer has read them all to the end.
  void attach(const std::string& node);

  void attach_failed(const std::string& node, const std::string& why);

  void sweep(Callbacks& cbs);

  KafkaQueueOptions opts_;
  // Acked ids (by ack time); the Kafka store keeps nothing of them but this memory.
  DedupWindow<Clock::time_point> acked_{opts_.limits.dedup_max_ids};
  static constexpr auto kNoForgetHook = [](const QueueKey&, const std::string&) {};
  mutable std::once_flag nodes_once_;
  mutable std::vector<std::string> nodes_at_open_;
  std::string max_record_bytes_;
  KafkaHandle producer_, consumer_;
  std::thread producer_thread_, consumer_thread_, service_thread_;
  std::atomic<bool> stop_producer_{false};
  std::atomic<uint64_t> tickets_{0};

  mutable std::mutex mu_;
  bool stop_ = false;
  std::condition_variable service_cv_;
  std::deque<std::string> attach_requests_;
  std::map<std::string, Node> nodes_;
  std::map<std::string, std::string> control_of_;  // control topic -> node
  std::map<PartitionId, Partition> partitions_;    // owned data partitions
  std::map<QueueKey, Queue> queues_;
  std::map<SessionKey, Session> sessions_;
  std::map<SessionKey, int64_t> released_;  // unix time of the release
  std::map<QueueKey, TopicRelease> released_topics_;
  std::unordered_map<uint64_t, Waiter> waiters_;
  std::list<Blocked> blocked_;
  // An async commit was sent and its on_commit has not run yet. Commits go one at a time:
  // librdkafka retries one the broker failed (after a backoff, or once the coordinator is
  // found again), so a newer commit sent meanwhile could be overwritten by the older one.
  bool commit_in_flight_ = false;
  uint64_t total_bytes_ = 0;  // indexed + in flight, for the limits
  // Also indexed + in flight, for the shares: by counted_source and by the queue's node.
  queue_bookkeeping::NodeBytes source_bytes_, target_bytes_;
  uint64_t stored_bytes_ = 0;  // indexed
  uint64_t messages_ = 0;
  uint64_t redeliveries_ = 0;  // nacks since open (QueueStats)
};

}  // namespace ptp
