#include "adapters/queue/kafka/kafka_queue_store.h"

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
#include "adapters/queue/kafka/kafka_offset_tracker.h"
#include "adapters/queue/kafka/kafka_record.h"
#include "adapters/queue/queue_bookkeeping.h"
#include "adapters/queue/queue_status.h"

namespace ptp {
namespace {

using Clock = std::chrono::steady_clock;
using SessionKey = std::pair<std::string, std::string>;  // node, session
using PartitionId = std::pair<std::string, int32_t>;     // Kafka topic, partition
using Callbacks = std::vector<std::function<void()>>;

using queue_bookkeeping::unix_now;

std::string num(uint64_t v) { return std::to_string(v); }
using queue_status::check_key;

// Control records (compacted topic): key "S\0<session>" or "T\0<session>\0<topic>",
// value "<unix time>" or "<unix time> <partition> <last dropped offset>".
std::string control_key(const std::string& session, const std::optional<std::string>& topic) {
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

}  // namespace

class KafkaQueueStore::Impl {
 public:
  explicit Impl(KafkaQueueOptions opts) : opts_(std::move(opts)) {
    if (opts_.group_id.empty()) opts_.group_id = opts_.topic_prefix + ".replicas";
  }

  Status open() {
    if (opts_.replica_count < 1 || opts_.replica_index < 0 ||
        opts_.replica_index >= opts_.replica_count)
      return Status::Error(Code::kBadRequest, "kafka: replica_index must be in [0, replica_count)");
    const uint64_t max_msg =
        std::min<uint64_t>(opts_.limits.max_message_bytes + (1u << 20), 1000000000ull);
    max_record_bytes_ = num(max_msg);
    std::string err;

    KafkaConf pc(rd_kafka_conf_new());
    std::map<std::string, std::string> p = {
        {"bootstrap.servers", opts_.bootstrap_servers},
        {"enable.idempotence", "true"},  // retries keep order and never duplicate
        {"acks", "all"},
        {"linger.ms", "5"},
        {"message.max.bytes", max_record_bytes_},
        {"queue.buffering.max.kbytes", "2097151"},
        {"log_level", "3"},
    };
    for (const auto& [k, v] : opts_.producer_config) p[k] = v;
    if (err = kafka_set(pc.get(), p); !err.empty())
      return Status::Error(Code::kBadRequest, "kafka producer config: " + err);
    rd_kafka_conf_set_dr_msg_cb(pc.get(), &Impl::on_delivery);
    rd_kafka_conf_set_opaque(pc.get(), this);
    producer_ = kafka_new(RD_KAFKA_PRODUCER, std::move(pc), err);
    if (!producer_) return Status::Error(Code::kSystemError, "kafka producer: " + err);

    KafkaConf cc(rd_kafka_conf_new());
    std::map<std::string, std::string> c = {
        {"bootstrap.servers", opts_.bootstrap_servers},
        {"group.id", opts_.group_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},  // tells when a node topic has caught up
        {"auto.offset.reset", "earliest"},
        {"fetch.wait.max.ms", "20"},
        {"log_level", "3"},
    };
    for (const auto& [k, v] : opts_.consumer_config) c[k] = v;
    if (err = kafka_set(cc.get(), c); !err.empty())
      return Status::Error(Code::kBadRequest, "kafka consumer config: " + err);
    rd_kafka_conf_set_offset_commit_cb(cc.get(), &Impl::on_commit);
    rd_kafka_conf_set_opaque(cc.get(), this);
    consumer_ = kafka_new(RD_KAFKA_CONSUMER, std::move(cc), err);
    if (!consumer_) return Status::Error(Code::kSystemError, "kafka consumer: " + err);
    rd_kafka_poll_set_consumer(consumer_.get());

    producer_thread_ = std::thread([this] {
      while (!stop_producer_) rd_kafka_poll(producer_.get(), 50);
    });
    consumer_thread_ = std::thread([this] { consume_loop(); });
    service_thread_ = std::thread([this] { service_loop(); });
    return Status::Ok();
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    service_cv_.notify_all();
    if (service_thread_.joinable()) service_thread_.join();
    if (consumer_thread_.joinable()) consumer_thread_.join();
    if (consumer_) {
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

  void push(const QueueKey& key, QueuedMessage msg, std::chrono::milliseconds wait, Done done) {
    if (Status st = check_key(key); !st.ok()) return done(st);
    if (msg.message_id.empty()) return done(Status::Error(Code::kBadRequest, "empty message id"));
    const auto deadline = Clock::now() + wait;
    with_node(key.node, [this, key, deadline, m = std::make_shared<QueuedMessage>(std::move(msg)),
                         done = std::move(done)](Callbacks& cbs, const Status& st) mutable {
      if (!st.ok()) return answer(cbs, std::move(done), st);
      do_push(key, std::move(*m), deadline, std::move(done), cbs);
    });
  }

  uint64_t pop(const QueueKey& key, std::chrono::milliseconds timeout, MessageDone done) {
    const uint64_t ticket = ++tickets_;
    if (Status st = check_key(key); !st.ok()) {
      done(st, std::nullopt);
      return ticket;
    }
    {
      std::lock_guard lock(mu_);
      waiters_.emplace(ticket, Waiter{key, Clock::now() + timeout, std::move(done)});
    }
    with_node(key.node, [this, key, ticket](Callbacks& cbs, const Status& st) {
      auto w = waiters_.find(ticket);
      if (w == waiters_.end()) return;  // cancelled or timed out while the node attached
      if (Status s = st.ok() ? serve_check(key) : st; !s.ok()) {
        cbs.push_back([d = std::move(w->second.done), s] { d(s, std::nullopt); });
        waiters_.erase(w);
        return;
      }
      touch(key);
      queues_[key].waiters.push_back(ticket);
      serve_waiters(key, cbs);
      if (auto again = waiters_.find(ticket);
          again != waiters_.end() && again->second.deadline <= Clock::now()) {
        cbs.push_back([d = std::move(again->second.done)] { d(Status::Ok(), std::nullopt); });
        waiters_.erase(again);
      }
    });
    return ticket;
  }

  void cancel_pop(uint64_t ticket) {
    MessageDone done;
    {
      std::lock_guard lock(mu_);
      auto w = waiters_.find(ticket);
      if (w == waiters_.end()) return;
      done = std::move(w->second.done);
      forget_ticket(w->second.key, ticket);
      waiters_.erase(w);
    }
    done(Status::Ok(), std::nullopt);
  }

  void ack(const QueueKey& key, uint64_t offset) {
    Callbacks cbs;
    {
      std::lock_guard lock(mu_);
      auto q = queues_.find(key);
      if (q == queues_.end()) return;
      auto m = q->second.leased.find(static_cast<int64_t>(offset));
      if (m == q->second.leased.end()) return;
      touch(key);
      if (opts_.limits.dedup_window.count() > 0)
        acked_.remember(key, m->second.message_id, Clock::now(), kNoForgetHook);
      drop_message(key, q->second, m->second);
      q->second.leased.erase(m);
      retry_blocked(cbs);
    }
    for (auto& f : cbs) f();
  }

  void nack(const QueueKey& key, uint64_t offset) {
    Callbacks cbs;
    {
      std::lock_guard lock(mu_);
      auto q = queues_.find(key);
      if (q == queues_.end()) return;
      auto m = q->second.leased.find(static_cast<int64_t>(offset));
      if (m == q->second.leased.end()) return;
      q->second.ready.insert(q->second.leased.extract(m));
      serve_waiters(key, cbs);
    }
    for (auto& f : cbs) f();
  }

  void peek(const QueueKey& key, MessageDone done) {
    if (Status st = check_key(key); !st.ok()) return done(st, std::nullopt);
    with_node(key.node, [this, key, done = std::move(done)](Callbacks& cbs,
                                                            const Status& st) mutable {
      Status s = st.ok() ? serve_check(key) : st;
      std::optional<QueuedMessage> m;
      if (s.ok()) {
        touch(key);
        auto q = queues_.find(key);
        if (q != queues_.end() && !q->second.ready.empty()) m = q->second.ready.begin()->second;
      }
      cbs.push_back([d = std::move(done), s, m = std::move(m)]() mutable { d(s, std::move(m)); });
    });
  }

  void release(const std::string& node, const std::string& session,
               std::optional<std::string> topic, Done done) {
    QueueKey key{node, session, topic.value_or("")};
    if (Status st = check_key(key); !st.ok()) return done(st);
    with_node(node,
              [this, key, topic, done = std::move(done)](Callbacks& cbs, const Status& st) mutable {
                if (!st.ok()) return answer(cbs, std::move(done), st);
                do_release(key, topic, std::move(done), cbs);
              });
  }

  // Looked up (a metadata request) when first asked, not at every open: only the store
  // behind the outbox is asked, right after opening. Immutable afterwards.
  const std::vector<std::string>& nodes_at_open() const {
    std::call_once(nodes_once_, [this] { find_nodes_at_open(); });
    return nodes_at_open_;
  }

  void queues_of(const std::string& node, KeysDone done) {
    with_node(node, [this, node, done = std::move(done)](Callbacks& cbs, const Status& st) mutable {
      std::vector<QueueKey> keys;
      if (st.ok())
        for (auto it = queues_.lower_bound(QueueKey{node, "", ""});
             it != queues_.end() && it->first.node == node; ++it)
          if (!it->second.ready.empty() || !it->second.leased.empty()) keys.push_back(it->first);
      cbs.push_back(
          [d = std::move(done), st, keys = std::move(keys)]() mutable { d(st, std::move(keys)); });
    });
  }

  QueueStats stats() const {
    std::lock_guard lock(mu_);
    QueueStats s;
    for (const auto& [k, q] : queues_)
      if (!q.ready.empty() || !q.leased.empty()) ++s.queues;
    s.messages = messages_;
    s.bytes = stored_bytes_;
    return s;
  }

 private:
  // The nodes whose data topics exist: a node's name is read back from its topic's name
  // (a name that had to be altered for Kafka, see kafka_data_topic, cannot be, and that
  // node resumes when it is next used). Without metadata (broker down) the list is empty.
  void find_nodes_at_open() const {
    std::string err;
    const std::string base = kafka_data_topic(opts_.topic_prefix, "");
    for (const std::string& t : kafka_topic_names(producer_.get(), std::chrono::seconds(3), err)) {
      if (!t.starts_with(base)) continue;
      std::string node = t.substr(base.size());
      constexpr std::string_view kControl = ".control";
      if (node.ends_with(kControl) &&
          kafka_control_topic(opts_.topic_prefix, node.substr(0, node.size() - kControl.size())) ==
              t)
        continue;
      if (!node.empty() && kafka_data_topic(opts_.topic_prefix, node) == t)
        nodes_at_open_.push_back(std::move(node));
    }
  }

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

  static Status closed_status() {
    return Status::Error(Code::kSystemError, "kafka queue store is closing");
  }
  static void answer(Callbacks& cbs, Done done, Status st) {
    cbs.push_back([d = std::move(done), st = std::move(st)] { d(st); });
  }

  // Runs op under the lock once the key's node topic is attached and caught up.
  void with_node(const std::string& node, NodeOp op) {
    Callbacks cbs;
    {
      std::lock_guard lock(mu_);
      if (stop_) {
        op(cbs, closed_status());
      } else {
        auto [it, fresh] = nodes_.try_emplace(node);
        if (it->second.ready) {
          op(cbs, Status::Ok());
        } else {
          it->second.pending.push_back(std::move(op));
          if (fresh) {
            it->second.deadline = Clock::now() + opts_.attach_timeout;
            attach_requests_.push_back(node);
            service_cv_.notify_one();
          }
        }
      }
    }
    for (auto& f : cbs) f();
  }

  // --- operations, under the lock --------------------------------------------------------

  bool released(const QueueKey& k) {
    auto it = released_.find({k.node, k.session});
    if (it == released_.end()) return false;
    if (unix_now() - it->second < opts_.released_memory.count()) return true;
    released_.erase(it);
    return false;
  }

  int32_t partition_of(const QueueKey& k) const {
    return kafka_partition_of(k, nodes_.at(k.node).partitions);
  }
  bool owns(int32_t partition) const {
    return partition % opts_.replica_count == opts_.replica_index;
  }

  // pop/peek: the session is alive and this replica serves the queue's partition.
  Status serve_check(const QueueKey& k) {
    if (released(k)) return queue_status::released(k.session);
    const int32_t p = partition_of(k);
    if (!owns(p))
      return Status::Error(Code::kUnreachable, "queue " + k.topic + " of session " + k.session +
                                                   " is served by replica " +
                                                   num(p % opts_.replica_count) + " of node " +
                                                   k.node);
    return Status::Ok();
  }

  void touch(const QueueKey& k) { sessions_[{k.node, k.session}].touched = Clock::now(); }

  bool fits(const QueueKey& k, uint64_t bytes) {
    const Session& s = sessions_[{k.node, k.session}];
    return queue_status::fits(s.bytes, s.messages, total_bytes_, bytes, opts_.limits);
  }
  Status full_status(const QueueKey& k) {
    const Session& s = sessions_[{k.node, k.session}];
    return queue_status::full(k.session, s.bytes, s.messages, total_bytes_, opts_.limits);
  }
  // One message (bytes > 0) in or out (bytes < 0) of the session's and the store's count.
  void count(const QueueKey& k, int64_t bytes) {
    auto& s = sessions_[{k.node, k.session}];
    s.bytes = static_cast<uint64_t>(static_cast<int64_t>(s.bytes) + bytes);
    if (bytes > 0)
      s.messages += 1;
    else if (s.messages > 0)
      s.messages -= 1;
    total_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(total_bytes_) + bytes);
  }

  void do_push(const QueueKey& key, QueuedMessage msg, Clock::time_point deadline, Done done,
               Callbacks& cbs) {
    if (released(key)) return answer(cbs, std::move(done), queue_status::released(key.session));
    if (Status st = queue_status::check_size(msg.env.body.size(), opts_.limits); !st.ok())
      return answer(cbs, std::move(done), std::move(st));
    const uint64_t bytes = queue_bookkeeping::footprint(msg);
    touch(key);
    Queue& q = queues_[key];
    if (q.ids.count(msg.message_id) || acked_.contains(key, msg.message_id))
      return answer(cbs, std::move(done), Status::Ok());  // a redelivery: stored once
    if (auto f = q.inflight.find(msg.message_id); f != q.inflight.end()) {
      f->second->done.push_back(std::move(done));  // answered when the first one is durable
      return;
    }
    if (!fits(key, bytes)) {
      if (Clock::now() >= deadline) return answer(cbs, std::move(done), full_status(key));
      blocked_.push_back({key, std::move(msg), deadline, std::move(done)});
      return;
    }
    produce(key, std::move(msg), std::move(done), cbs);
  }

  void produce(const QueueKey& key, QueuedMessage msg, Done done, Callbacks& cbs) {
    const Node& node = nodes_.at(key.node);
    auto p = std::make_unique<Produce>();
    p->key = key;
    p->bytes = queue_bookkeeping::footprint(msg);
    p->msg = std::move(msg);
    p->done.push_back(std::move(done));
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(8 + p->msg.env.meta.size());
    for_each_kafka_header(key, p->msg, [&](std::string_view n, std::string_view v) {
      rd_kafka_header_add(hdrs, n.data(), static_cast<ssize_t>(n.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    });
    std::string& body = p->msg.env.body;
    const std::string& id = p->msg.message_id;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(node.data_topic.c_str()),
        RD_KAFKA_V_PARTITION(kafka_partition_of(key, node.partitions)),
        RD_KAFKA_V_KEY(id.data(), id.size()),
        RD_KAFKA_V_VALUE(body.empty() ? nullptr : body.data(), body.size()),
        RD_KAFKA_V_MSGFLAGS(0),  // no copy: the payload lives in *p until the report
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(p.get()), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(hdrs);  // not taken over on failure
      Status st = err == RD_KAFKA_RESP_ERR__QUEUE_FULL
                      ? Status::Error(Code::kBufferFull, "kafka producer queue is full")
                      : Status::Error(Code::kSystemError,
                                      std::string("kafka produce: ") + rd_kafka_err2str(err));
      for (auto& d : p->done) answer(cbs, std::move(d), st);
      return;
    }
    count(key, static_cast<int64_t>(p->bytes));
    queues_[key].inflight[id] = p.get();
    (void)p.release();  // librdkafka holds it until on_delivery
  }

  void do_release(const QueueKey& key, const std::optional<std::string>& topic, Done done,
                  Callbacks& cbs) {
    const Node& node = nodes_.at(key.node);
    std::string value = num(static_cast<uint64_t>(unix_now()));
    int64_t upto = -1;
    if (topic) {
      const int32_t part = partition_of(key);
      if (!owns(part))
        return answer(cbs, std::move(done),
                      Status::Error(Code::kUnreachable, "release of topic " + *topic +
                                                            " must go to replica " +
                                                            num(part % opts_.replica_count)));
      upto = partitions_.at({node.data_topic, part}).tracker.known_end() - 1;
      value += " " + num(static_cast<uint64_t>(part)) + " " + std::to_string(upto);
    }
    auto p = std::make_unique<Produce>();
    p->control = true;
    p->done.push_back(std::move(done));
    const std::string k = control_key(key.session, topic);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(node.control_topic.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(k.data(), k.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(p.get()), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return answer(cbs, std::move(p->done[0]),
                    Status::Error(Code::kSystemError,
                                  std::string("kafka release record: ") + rd_kafka_err2str(err)));
    (void)p.release();  // librdkafka holds it until on_delivery
    apply_release(key, topic.has_value(), upto, unix_now(), cbs);
  }

  // Drops the session (or the topic's queue up to `upto`); also run for control records.
  void apply_release(const QueueKey& key, bool topic_only, int64_t upto, int64_t at,
                     Callbacks& cbs) {
    if (topic_only) {
      TopicRelease& r = released_topics_[key];
      r.upto = std::max(r.upto, upto);
      r.at = at;
    } else {
      released_[{key.node, key.session}] = at;
    }
    for (auto it = queues_.begin(); it != queues_.end();) {
      const QueueKey& k = it->first;
      if (k.node != key.node || k.session != key.session || (topic_only && k.topic != key.topic)) {
        ++it;
        continue;
      }
      Queue& q = it->second;
      for (auto* m : {&q.ready, &q.leased})
        for (auto e = m->begin(); e != m->end();) {
          if (topic_only && e->first > upto) {
            ++e;
            continue;
          }
          drop_message(k, q, e->second);
          e = m->erase(e);
        }
      // Waiting pops of a released session learn it now; of a released topic, later.
      if (!topic_only) {
        for (uint64_t t : q.waiters)
          if (auto w = waiters_.find(t); w != waiters_.end()) {
            cbs.push_back([d = std::move(w->second.done), s = key.session] {
              d(queue_status::released(s), std::nullopt);
            });
            waiters_.erase(w);
          }
        q.waiters.clear();
      }
      if (q.ready.empty() && q.leased.empty() && q.inflight.empty() && q.waiters.empty())
        it = queues_.erase(it);
      else
        ++it;
    }
    acked_.forget_queues(
        [&](const QueueKey& k) {
          return k.node == key.node && k.session == key.session &&
                 (!topic_only || k.topic == key.topic);
        },
        kNoForgetHook);
    if (!topic_only) {
      for (auto it = blocked_.begin(); it != blocked_.end();) {
        if (it->key.node == key.node && it->key.session == key.session) {
          answer(cbs, std::move(it->done), queue_status::released(key.session));
          it = blocked_.erase(it);
        } else {
          ++it;
        }
      }
    }
    retry_blocked(cbs);
  }

  // Forgets an indexed message: its offset is done, its bytes free.
  void drop_message(const QueueKey& k, Queue& q, const QueuedMessage& m) {
    const Node& node = nodes_.at(k.node);
    auto part = partitions_.find({node.data_topic, kafka_partition_of(k, node.partitions)});
    if (part != partitions_.end()) part->second.tracker.done(static_cast<int64_t>(m.offset));
    q.ids.erase(m.message_id);
    const uint64_t bytes = queue_bookkeeping::footprint(m);
    count(k, -static_cast<int64_t>(bytes));
    stored_bytes_ -= std::min(stored_bytes_, bytes);
    messages_ -= 1;
  }

  // Makes a record visible in its queue (from the consumer or our own delivery report).
  void index(const QueueKey& key, QueuedMessage msg, Partition& part, int64_t offset,
             Callbacks& cbs) {
    if (released(key)) return;
    if (auto r = released_topics_.find(key);
        r != released_topics_.end() && offset <= r->second.upto)
      return;
    Queue& q = queues_[key];
    // The same message id twice in Kafka (a push retried through another replica).
    if (q.ids.count(msg.message_id) || acked_.contains(key, msg.message_id)) return;
    msg.offset = static_cast<uint64_t>(offset);
    const uint64_t bytes = queue_bookkeeping::footprint(msg);
    q.ids[msg.message_id] = offset;
    q.ready.emplace(offset, std::move(msg));
    part.tracker.hold(offset);
    count(key, static_cast<int64_t>(bytes));
    stored_bytes_ += bytes;
    messages_ += 1;
    serve_waiters(key, cbs);
  }

  void forget_ticket(const QueueKey& key, uint64_t ticket) {
    if (auto q = queues_.find(key); q != queues_.end()) std::erase(q->second.waiters, ticket);
  }

  void serve_waiters(const QueueKey& key, Callbacks& cbs) {
    Queue& q = queues_[key];
    while (!q.waiters.empty() && !q.ready.empty()) {
      const uint64_t t = q.waiters.front();
      q.waiters.pop_front();
      auto w = waiters_.find(t);
      if (w == waiters_.end()) continue;
      auto head = q.ready.begin();
      QueuedMessage copy = head->second;
      q.leased.insert(q.ready.extract(head));
      cbs.push_back([d = std::move(w->second.done), m = std::move(copy)]() mutable {
        d(Status::Ok(), std::move(m));
      });
      waiters_.erase(w);
    }
  }

  void retry_blocked(Callbacks& cbs) {
    for (auto it = blocked_.begin(); it != blocked_.end();) {
      if (!fits(it->key, it->msg.env.body.size())) {
        ++it;
        continue;
      }
      Blocked b = std::move(*it);
      it = blocked_.erase(it);
      do_push(b.key, std::move(b.msg), b.deadline, std::move(b.done), cbs);
    }
  }

  // --- producer thread ---------------------------------------------------------------------

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    std::unique_ptr<Produce> p(static_cast<Produce*>(m->_private));
    static_cast<Impl*>(opaque)->delivered(std::move(p), m->err, m->partition, m->offset);
  }

  void delivered(std::unique_ptr<Produce> p, rd_kafka_resp_err_t err, int32_t partition,
                 int64_t offset) {
    Callbacks cbs;
    Status st;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      st = Status::Error(Code::kSystemError,
                         std::string("kafka did not store the message: ") + rd_kafka_err2str(err));
    {
      std::lock_guard lock(mu_);
      if (!p->control) {
        if (auto q = queues_.find(p->key); q != queues_.end()) {
          q->second.inflight.erase(p->msg.message_id);
        }
        count(p->key, -static_cast<int64_t>(p->bytes));
        if (st.ok()) {
          const Node& node = nodes_.at(p->key.node);
          auto part = partitions_.find({node.data_topic, partition});
          // Visible at once when we own the partition and the consumer has not read it yet.
          if (part != partitions_.end() && part->second.tracker.produced(offset))
            index(p->key, std::move(p->msg), part->second, offset, cbs);
        } else {
          retry_blocked(cbs);
        }
      }
      for (auto& d : p->done) answer(cbs, std::move(d), st);
    }
    for (auto& f : cbs) f();
  }

  // --- consumer thread ---------------------------------------------------------------------

  void consume_loop() {
    auto next_commit = Clock::now();
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 10)) {
        handle(m);
        rd_kafka_message_destroy(m);
      }
      expire();
      if (Clock::now() >= next_commit) {
        commit(false);
        next_commit = Clock::now() + opts_.commit_interval;
      }
    }
  }

  void handle(const rd_kafka_message_t* m) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
      return;  // transient fetch errors: librdkafka retries
    const std::string topic = rd_kafka_topic_name(m->rkt);
    Callbacks cbs;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      std::lock_guard lock(mu_);
      reached_end({topic, m->partition}, cbs);
    } else {
      // Decode outside the lock.
      QueueKey key;
      QueuedMessage msg;
      KafkaRecordReader reader;
      kafka_for_each_header(
          m, [&](std::string_view name, std::string_view value) { reader.header(name, value); });
      const std::string_view value(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
      const bool decoded = reader.finish(value, key, msg).ok();
      std::lock_guard lock(mu_);
      auto c = control_of_.find(topic);
      if (c != control_of_.end()) {
        control_record(c->second, m, cbs);
      } else if (auto part = partitions_.find({topic, m->partition}); part != partitions_.end()) {
        const bool replayed = part->second.tracker.before_start(m->offset);
        if (part->second.tracker.consume(m->offset) && decoded) {
          key.node = part->second.node;  // the topic names the node
          index(key, std::move(msg), part->second, m->offset, cbs);
        } else if (replayed && decoded) {
          key.node = part->second.node;
          remember_done(key, msg.message_id, m);
        }
      }
    }
    for (auto& f : cbs) f();
  }

  // A record done before the restart: its id joins the dedup window for the rest of
  // the window, counted from the record's timestamp.
  void remember_done(const QueueKey& key, const std::string& id, const rd_kafka_message_t* m) {
    if (opts_.limits.dedup_window.count() <= 0) return;
    rd_kafka_timestamp_type_t type;
    const int64_t ts_ms = rd_kafka_message_timestamp(m, &type);
    auto age = std::chrono::milliseconds(0);
    if (ts_ms > 0)
      age = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch()) -
            std::chrono::milliseconds(ts_ms);
    if (age >= opts_.limits.dedup_window) return;
    acked_.remember(key, id, Clock::now() - std::max(age, std::chrono::milliseconds(0)),
                    kNoForgetHook);
  }

  void control_record(const std::string& node, const rd_kafka_message_t* m, Callbacks& cbs) {
    const std::string_view k(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
    if (k.size() < 2 || k[1] != '\0') return;
    const std::string_view rest = k.substr(2);
    const auto z = rest.find('\0');
    QueueKey key{node, std::string(rest.substr(0, z)),
                 z == std::string_view::npos ? "" : std::string(rest.substr(z + 1))};
    if (!m->payload) {  // a tombstone: the release is forgotten
      if (k[0] == 'S') released_.erase({key.node, key.session});
      if (k[0] == 'T') released_topics_.erase(key);
      return;
    }
    const std::string value(static_cast<const char*>(m->payload), m->len);
    long long at = 0, part = 0, upto = -1;
    const int n = std::sscanf(value.c_str(), "%lld %lld %lld", &at, &part, &upto);
    if (k[0] == 'S' && n >= 1) apply_release(key, false, -1, at, cbs);
    if (k[0] == 'T' && n == 3) apply_release(key, true, upto, at, cbs);
  }

  // A partition was read to its end; a node whose partitions all were is ready.
  void reached_end(const PartitionId& pid, Callbacks& cbs) {
    for (auto& [name, node] : nodes_) {
      if (node.ready || !node.awaiting_eof.erase(pid) || !node.awaiting_eof.empty()) continue;
      if (node.partitions == 0) continue;  // not assigned yet
      node.ready = true;
      auto ops = std::move(node.pending);
      node.pending.clear();
      for (auto& op : ops) op(cbs, Status::Ok());
    }
  }

  void expire() {
    Callbacks cbs;
    {
      std::lock_guard lock(mu_);
      const auto now = Clock::now();
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        forget_ticket(it->second.key, it->first);
        cbs.push_back([d = std::move(it->second.done)] { d(Status::Ok(), std::nullopt); });
        it = waiters_.erase(it);
      }
      for (auto it = blocked_.begin(); it != blocked_.end();) {
        if (it->deadline > now) {
          ++it;
          continue;
        }
        answer(cbs, std::move(it->done), full_status(it->key));
        it = blocked_.erase(it);
      }
      for (auto& [name, node] : nodes_) {
        if (node.ready || node.pending.empty() || node.deadline > now) continue;
        Status st = Status::Error(Code::kSystemError,
                                  "kafka: topic of node " + name + " is not available (yet)");
        auto ops = std::move(node.pending);
        node.pending.clear();
        for (auto& op : ops) op(cbs, st);
        node.deadline = now + opts_.attach_timeout;
      }
    }
    for (auto& f : cbs) f();
  }

  // Commits changed positions of owned partitions, async from the consumer thread; at
  // shutdown (`final`) every position, synchronously. False when a final commit failed.
  bool commit(bool final) {
    const bool async = !final;
    KafkaPartitionList list(rd_kafka_topic_partition_list_new(8));
    {
      std::lock_guard lock(mu_);
      for (auto& [pid, part] : partitions_) {
        const int64_t off = part.tracker.commit_offset();
        std::string meta = part.tracker.commit_metadata();
        if (!final && off == part.sent_offset && meta == part.sent_meta) continue;
        rd_kafka_topic_partition_t* tp =
            rd_kafka_topic_partition_list_add(list.get(), pid.first.c_str(), pid.second);
        tp->offset = off;
        if (!meta.empty()) {
          // librdkafka frees the list's metadata with free().
          tp->metadata = std::malloc(meta.size());
          std::memcpy(tp->metadata, meta.data(), meta.size());
          tp->metadata_size = meta.size();
        }
        part.sent_offset = off;
        part.sent_meta = std::move(meta);
      }
    }
    if (list->cnt == 0) return true;
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), async ? 1 : 0);
    if (!async && err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      forget_sent(list.get());
      return false;
    }
    if (!async) {
      for (int i = 0; i < list->cnt; ++i)
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          forget_sent(list.get());
          return false;
        }
    }
    return true;
  }

  // A failed commit is sent again on the next round.
  void forget_sent(const rd_kafka_topic_partition_list_t* list) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < list->cnt; ++i)
      if (auto it = partitions_.find({list->elems[i].topic, list->elems[i].partition});
          it != partitions_.end())
        it->second.sent_offset = -1;
  }

  static void on_commit(rd_kafka_t*, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; offsets && i < offsets->cnt; ++i)
      failed |= offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR;
    if (failed && offsets) static_cast<Impl*>(opaque)->forget_sent(offsets);
  }

  // --- service thread: attaching node topics, sweeping ------------------------------------

  void service_loop() {
    auto next_sweep = Clock::now() + opts_.sweep_interval;
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (!attach_requests_.empty()) {
        std::string node = std::move(attach_requests_.front());
        attach_requests_.pop_front();
        lock.unlock();
        attach(node);
        lock.lock();
        continue;
      }
      if (Clock::now() >= next_sweep) {
        Callbacks cbs;
        sweep(cbs);
        lock.unlock();
        for (auto& f : cbs) f();
        lock.lock();
        next_sweep = Clock::now() + opts_.sweep_interval;
        continue;
      }
      service_cv_.wait_until(lock, next_sweep);
    }
  }

  // Blocking: creates/looks up the node's topics, reads committed offsets, assigns the
  // owned partitions. The node becomes ready when the consumer has read them all to the end.
  void attach(const std::string& node) {
    const std::string data = kafka_data_topic(opts_.topic_prefix, node);
    const std::string control = kafka_control_topic(opts_.topic_prefix, node);
    const auto timeout = opts_.attach_timeout;
    std::string err;

    if (opts_.create_topics) {
      kafka_create_topic(producer_.get(), data, opts_.partitions, opts_.replication_factor,
                         {{"max.message.bytes", max_record_bytes_}}, timeout);
      kafka_create_topic(producer_.get(), control, 1, opts_.replication_factor,
                         {{"cleanup.policy", "compact"}}, timeout);
    }
    // Metadata through both clients: the consumer must know the partition leaders before
    // the assignment, or it waits for its next periodic metadata refresh.
    const int parts = kafka_partition_count(producer_.get(), data, timeout, err);
    const int control_parts =
        parts > 0 ? kafka_partition_count(consumer_.get(), control, timeout, err) : -1;
    if (parts <= 0 || control_parts <= 0 ||
        kafka_partition_count(consumer_.get(), data, timeout, err) != parts)
      return attach_failed(node, err);

    KafkaPartitionList owned(rd_kafka_topic_partition_list_new(parts));
    for (int p = 0; p < parts; ++p)
      if (owns(p)) rd_kafka_topic_partition_list_add(owned.get(), data.c_str(), p);
    if (owned->cnt > 0) {
      rd_kafka_resp_err_t e =
          rd_kafka_committed(consumer_.get(), owned.get(), static_cast<int>(timeout.count()));
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return attach_failed(node, std::string("committed offsets: ") + rd_kafka_err2str(e));
    }
    KafkaPartitionList assign(rd_kafka_topic_partition_list_new(owned->cnt + control_parts));
    {
      std::lock_guard lock(mu_);
      Node& n = nodes_[node];
      n.data_topic = data;
      n.control_topic = control;
      control_of_[control] = node;
      for (int i = 0; i < owned->cnt; ++i) {
        const rd_kafka_topic_partition_t& tp = owned->elems[i];
        Partition& part = partitions_[{data, tp.partition}];
        part.node = node;
        part.tracker.start(tp.offset, std::string_view(static_cast<const char*>(tp.metadata),
                                                       tp.metadata ? tp.metadata_size : 0));
        // Resume a little before the committed offset to relearn recent message ids.
        int64_t from = RD_KAFKA_OFFSET_BEGINNING;
        if (tp.offset >= 0)
          from = opts_.limits.dedup_window.count() > 0
                     ? std::max<int64_t>(0, tp.offset - opts_.dedup_replay_records)
                     : tp.offset;
        rd_kafka_topic_partition_list_add(assign.get(), data.c_str(), tp.partition)->offset = from;
        n.awaiting_eof.insert({data, tp.partition});
      }
      // Every replica reads every control partition, from the beginning.
      for (int p = 0; p < control_parts; ++p) {
        rd_kafka_topic_partition_list_add(assign.get(), control.c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        n.awaiting_eof.insert({control, p});
      }
      n.partitions = parts;
    }
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_.get(), assign.get())) {
      std::string what = rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      return attach_failed(node, "assign: " + what);
    }
  }

  void attach_failed(const std::string& node, const std::string& why) {
    Callbacks cbs;
    {
      std::lock_guard lock(mu_);
      auto it = nodes_.find(node);
      if (it == nodes_.end()) return;
      Status st =
          Status::Error(Code::kSystemError, "kafka: cannot attach node " + node + ": " + why);
      for (auto& op : it->second.pending) op(cbs, st);
      // Forget it, so the next operation tries again (unless it was half-assigned).
      if (it->second.partitions == 0)
        nodes_.erase(it);
      else
        it->second.pending.clear();
    }
    for (auto& f : cbs) f();
  }

  void sweep(Callbacks& cbs) {
    const auto now = Clock::now();
    acked_.expire(now - opts_.limits.dedup_window + Clock::duration(1), kNoForgetHook);
    // Idle sessions are dropped (their offsets count as done).
    std::vector<SessionKey> idle;
    for (const auto& [s, ses] : sessions_)
      if (now - ses.touched >= opts_.limits.session_idle_expiry) idle.push_back(s);
    for (const SessionKey& s : idle) {
      bool busy = false;
      for (auto it = queues_.lower_bound({s.first, s.second, ""});
           it != queues_.end() && it->first.node == s.first && it->first.session == s.second; ++it)
        busy |= !it->second.inflight.empty() || !it->second.leased.empty() ||
                !it->second.waiters.empty();
      if (busy) continue;
      for (auto it = queues_.lower_bound({s.first, s.second, ""});
           it != queues_.end() && it->first.node == s.first && it->first.session == s.second;) {
        for (auto& [o, m] : it->second.ready) drop_message(it->first, it->second, m);
        it = queues_.erase(it);
      }
      sessions_.erase(s);
    }
    std::erase_if(queues_, [](const auto& kv) {
      const Queue& q = kv.second;
      return q.ready.empty() && q.leased.empty() && q.inflight.empty() && q.waiters.empty();
    });
    const int64_t t = unix_now();
    std::erase_if(released_,
                  [&](const auto& r) { return t - r.second >= opts_.released_memory.count(); });
    std::erase_if(released_topics_,
                  [&](const auto& r) { return t - r.second.at >= opts_.released_memory.count(); });
    retry_blocked(cbs);
  }

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
  uint64_t total_bytes_ = 0;   // indexed + in flight, for the limits
  uint64_t stored_bytes_ = 0;  // indexed
  uint64_t messages_ = 0;
};

std::unique_ptr<KafkaQueueStore> KafkaQueueStore::open(const KafkaQueueOptions& opts,
                                                       Status& error) {
  auto impl = std::make_unique<Impl>(opts);
  if (error = impl->open(); !error.ok()) return nullptr;
  return std::unique_ptr<KafkaQueueStore>(new KafkaQueueStore(std::move(impl)));
}

KafkaQueueStore::KafkaQueueStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaQueueStore::~KafkaQueueStore() = default;

void KafkaQueueStore::push(const QueueKey& key, QueuedMessage msg, std::chrono::milliseconds wait,
                           Done done) {
  impl_->push(key, std::move(msg), wait, std::move(done));
}
uint64_t KafkaQueueStore::pop(const QueueKey& key, std::chrono::milliseconds timeout,
                              MessageDone done) {
  return impl_->pop(key, timeout, std::move(done));
}
void KafkaQueueStore::cancel_pop(uint64_t ticket) { impl_->cancel_pop(ticket); }
void KafkaQueueStore::ack(const QueueKey& key, uint64_t offset) { impl_->ack(key, offset); }
void KafkaQueueStore::nack(const QueueKey& key, uint64_t offset) { impl_->nack(key, offset); }
void KafkaQueueStore::peek(const QueueKey& key, MessageDone done) {
  impl_->peek(key, std::move(done));
}
void KafkaQueueStore::release(const std::string& node, const std::string& session,
                              std::optional<std::string> topic, Done done) {
  impl_->release(node, session, std::move(topic), std::move(done));
}
QueueStats KafkaQueueStore::stats() const { return impl_->stats(); }

std::vector<std::string> KafkaQueueStore::nodes_at_open() const { return impl_->nodes_at_open(); }

void KafkaQueueStore::queues_of(const std::string& node, KeysDone done) {
  impl_->queues_of(node, std::move(done));
}

}  // namespace ptp
