// The Kafka queue store: open, the entry points and the operations under the lock
// (kafka_queue_store_impl.h).
#include "adapters/queue/kafka/kafka_queue_store_impl.h"

namespace ptp {

Status KafkaQueueStore::Impl::open() {
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

void KafkaQueueStore::Impl::push(const QueueKey& key, QueuedMessage msg,
                                 std::chrono::milliseconds wait, Done done) {
  if (Status st = check_key(key); !st.ok()) return done(st);
  if (msg.message_id.empty()) return done(Status::Error(Code::kBadRequest, "empty message id"));
  const auto deadline = Clock::now() + wait;
  with_node(key.node, [this, key, deadline, m = std::make_shared<QueuedMessage>(std::move(msg)),
                       done = std::move(done)](Callbacks& cbs, const Status& st) mutable {
    if (!st.ok()) return answer(cbs, std::move(done), st);
    do_push(key, std::move(*m), deadline, std::move(done), cbs);
  });
}

uint64_t KafkaQueueStore::Impl::pop(const QueueKey& key, std::chrono::milliseconds timeout,
                                    MessageDone done) {
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

void KafkaQueueStore::Impl::cancel_pop(uint64_t ticket) {
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

void KafkaQueueStore::Impl::ack(const QueueKey& key, uint64_t offset) {
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

void KafkaQueueStore::Impl::nack(const QueueKey& key, uint64_t offset) {
  Callbacks cbs;
  {
    std::lock_guard lock(mu_);
    auto q = queues_.find(key);
    if (q == queues_.end()) return;
    auto m = q->second.leased.find(static_cast<int64_t>(offset));
    if (m == q->second.leased.end()) return;
    q->second.ready.insert(q->second.leased.extract(m));
    ++redeliveries_;
    serve_waiters(key, cbs);
  }
  for (auto& f : cbs) f();
}

void KafkaQueueStore::Impl::peek(const QueueKey& key, MessageDone done) {
  if (Status st = check_key(key); !st.ok()) return done(st, std::nullopt);
  with_node(
      key.node, [this, key, done = std::move(done)](Callbacks& cbs, const Status& st) mutable {
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

void KafkaQueueStore::Impl::release(const std::string& node, const std::string& session,
                                    std::optional<std::string> topic, Done done) {
  QueueKey key{node, session, topic.value_or("")};
  if (Status st = check_key(key); !st.ok()) return done(st);
  with_node(node,
            [this, key, topic, done = std::move(done)](Callbacks& cbs, const Status& st) mutable {
              if (!st.ok()) return answer(cbs, std::move(done), st);
              do_release(key, topic, std::move(done), cbs);
            });
}

const std::vector<std::string>& KafkaQueueStore::Impl::nodes_at_open() const {
  std::call_once(nodes_once_, [this] { find_nodes_at_open(); });
  return nodes_at_open_;
}

void KafkaQueueStore::Impl::queues_of(const std::string& node, KeysDone done) {
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

void KafkaQueueStore::Impl::served_topic(const std::string& node, const std::string& session,
                                         std::string base, TopicDone done) {
  if (Status st = check_key({node, session, base}); !st.ok()) return done(st, "");
  with_node(node, [this, node, session, base = std::move(base), done = std::move(done)](
                      Callbacks& cbs, const Status& st) mutable {
    if (!st.ok()) return cbs.push_back([d = std::move(done), st] { d(st, ""); });
    // The search (up to thousands of hashes with many replicas) runs outside the lock.
    cbs.push_back([d = std::move(done), node, session, base = std::move(base),
                   partitions = nodes_.at(node).partitions, count = opts_.replica_count,
                   index = opts_.replica_index] {
      if (auto t = kafka_topic_served_by(session, base, partitions, count, index))
        return d(Status::Ok(), std::move(*t));
      d(Status::Error(Code::kUnreachable, "replica " + num(index) + " of node " + node +
                                              " serves no queue of session " + session + " (" +
                                              num(partitions) + " partitions, " + num(count) +
                                              " replicas)"),
        "");
    });
  });
}

QueueStats KafkaQueueStore::Impl::stats() const {
  std::lock_guard lock(mu_);
  QueueStats s;
  for (const auto& [k, q] : queues_)
    if (!q.ready.empty() || !q.leased.empty()) ++s.queues;
  s.messages = messages_;
  s.bytes = stored_bytes_;
  s.redeliveries = redeliveries_;
  return s;
}

void KafkaQueueStore::Impl::find_nodes_at_open() const {
  std::string err;
  // A data topic is "<prefix>.<component>" (or, too long, "<prefix>.<...>_<hash>"): no '.'
  // after the prefix, as control topics and names of earlier versions have.
  const std::string stem = opts_.topic_prefix + ".";
  std::vector<std::string> unnamed;  // data topics whose name does not spell the node
  for (const std::string& t : kafka_topic_names(producer_.get(), std::chrono::seconds(3), err)) {
    if (!t.starts_with(stem) || t.size() == stem.size()) continue;
    std::string node = t.substr(stem.size());
    if (node.find('.') != std::string::npos) continue;
    if (kafka_data_topic(opts_.topic_prefix, node) == t)
      nodes_at_open_.push_back(std::move(node));
    else
      unnamed.push_back(t);
  }
  // The others are read: their records name the node (a topic with none has nothing left).
  std::map<std::string, std::string> config = opts_.consumer_config;
  config.try_emplace("bootstrap.servers", opts_.bootstrap_servers);
  config["group.id"] = opts_.group_id + ".scan";
  for (auto& [topic, node] :
       kafka_first_headers(config, unnamed, kKafkaNodeHeader, opts_.attach_timeout, err))
    if (kafka_data_topic(opts_.topic_prefix, node) == topic) nodes_at_open_.push_back(node);
}

Status KafkaQueueStore::Impl::closed_status() {
  return Status::Error(Code::kSystemError, "kafka queue store is closing");
}

void KafkaQueueStore::Impl::answer(Callbacks& cbs, Done done, Status st) {
  cbs.push_back([d = std::move(done), st = std::move(st)] { d(st); });
}

void KafkaQueueStore::Impl::with_node(const std::string& node, NodeOp op) {
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

bool KafkaQueueStore::Impl::released(const QueueKey& k) {
  auto it = released_.find({k.node, k.session});
  if (it == released_.end()) return false;
  if (unix_now() - it->second < opts_.released_memory.count()) return true;
  released_.erase(it);
  return false;
}

int32_t KafkaQueueStore::Impl::partition_of(const QueueKey& k) const {
  return kafka_partition_of(k, nodes_.at(k.node).partitions);
}

bool KafkaQueueStore::Impl::owns(int32_t partition) const {
  return partition % opts_.replica_count == opts_.replica_index;
}

Status KafkaQueueStore::Impl::owner_check(const QueueKey& k) const {
  const int32_t p = partition_of(k);
  if (owns(p)) return Status::Ok();
  return Status::Error(Code::kUnreachable, "queue " + k.topic + " of session " + k.session +
                                               " is served by replica " +
                                               num(p % opts_.replica_count) + " of node " + k.node);
}

Status KafkaQueueStore::Impl::serve_check(const QueueKey& k) {
  if (released(k)) return queue_status::released(k.session);
  return owner_check(k);
}

const KafkaQueueStore::Impl::Session& KafkaQueueStore::Impl::session_of(const QueueKey& k) const {
  static const Session kNone;  // immutable: a session with nothing queued
  auto s = sessions_.find({k.node, k.session});
  return s == sessions_.end() ? kNone : s->second;
}

Status KafkaQueueStore::Impl::room_for(const QueueKey& k, const QueuedMessage& m,
                                       uint64_t bytes) const {
  return queue_status::room(k, queue_bookkeeping::counted_source(k, m), bytes, session_of(k),
                            total_bytes_, source_bytes_, target_bytes_, opts_.limits);
}

void KafkaQueueStore::Impl::count(const QueueKey& k, const QueuedMessage& m, int64_t bytes) {
  const std::string source = queue_bookkeeping::counted_source(k, m);
  const uint64_t n = static_cast<uint64_t>(bytes < 0 ? -bytes : bytes);
  if (bytes > 0) {
    if (!source.empty()) source_bytes_.add(source, n);
    target_bytes_.add(k.node, n);
  } else {
    if (!source.empty()) source_bytes_.remove(source, n);
    target_bytes_.remove(k.node, n);
  }
  auto& s = sessions_[{k.node, k.session}];
  s.bytes = static_cast<uint64_t>(static_cast<int64_t>(s.bytes) + bytes);
  if (bytes > 0)
    s.messages += 1;
  else if (s.messages > 0)
    s.messages -= 1;
  total_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(total_bytes_) + bytes);
}

void KafkaQueueStore::Impl::do_push(const QueueKey& key, QueuedMessage msg,
                                    Clock::time_point deadline, Done done, Callbacks& cbs) {
  if (released(key)) return answer(cbs, std::move(done), queue_status::released(key.session));
  // A peer's push is checked by the replica that indexes it (docs/queues-kafka.md "Replicas").
  if (opts_.pushes == KafkaPushes::kOwner && !queue_bookkeeping::counted_source(key, msg).empty())
    if (Status st = owner_check(key); !st.ok()) return answer(cbs, std::move(done), std::move(st));
  if (Status st = queue_status::check_size(msg.env.body.size(), opts_.limits); !st.ok())
    return answer(cbs, std::move(done), std::move(st));
  const uint64_t bytes = queue_bookkeeping::footprint(msg);
  // Nothing is added to the index before the message is taken: a refused push to a new
  // topic or session leaves no queue or session behind (a peer's refused pushes cost nothing).
  touch_if_known(key);
  auto known = queues_.find(key);
  if ((known != queues_.end() && known->second.ids.count(msg.message_id)) ||
      acked_.contains(key, msg.message_id))
    return answer(cbs, std::move(done), Status::Ok());  // a redelivery: stored once
  if (known != queues_.end())
    if (auto f = known->second.inflight.find(msg.message_id); f != known->second.inflight.end()) {
      f->second->done.push_back(std::move(done));  // answered when the first one is durable
      return;
    }
  if (Status room = room_for(key, msg, bytes); !room.ok()) {
    if (Clock::now() >= deadline) return answer(cbs, std::move(done), std::move(room));
    blocked_.push_back({key, std::move(msg), deadline, std::move(done)});
    return;
  }
  produce(key, std::move(msg), std::move(done), cbs);
}

void KafkaQueueStore::Impl::produce(const QueueKey& key, QueuedMessage msg, Done done,
                                    Callbacks& cbs) {
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
  count(key, p->msg, static_cast<int64_t>(p->bytes));
  touch(key);
  queues_[key].inflight[id] = p.get();
  (void)p.release();  // librdkafka holds it until on_delivery
}

void KafkaQueueStore::Impl::do_release(const QueueKey& key, const std::optional<std::string>& topic,
                                       Done done, Callbacks& cbs) {
  const Node& node = nodes_.at(key.node);
  std::string value = num(static_cast<uint64_t>(unix_now()));
  int64_t upto = -1;
  if (topic) {
    const int32_t part = partition_of(key);
    if (!owns(part))
      return answer(
          cbs, std::move(done),
          Status::Error(Code::kUnreachable, "release of topic " + *topic + " must go to replica " +
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

void KafkaQueueStore::Impl::apply_release(const QueueKey& key, bool topic_only, int64_t upto,
                                          int64_t at, Callbacks& cbs) {
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

void KafkaQueueStore::Impl::drop_message(const QueueKey& k, Queue& q, const QueuedMessage& m) {
  const Node& node = nodes_.at(k.node);
  auto part = partitions_.find({node.data_topic, kafka_partition_of(k, node.partitions)});
  if (part != partitions_.end()) part->second.tracker.done(static_cast<int64_t>(m.offset));
  q.ids.erase(m.message_id);
  const uint64_t bytes = queue_bookkeeping::footprint(m);
  count(k, m, -static_cast<int64_t>(bytes));
  stored_bytes_ -= std::min(stored_bytes_, bytes);
  messages_ -= 1;
}

void KafkaQueueStore::Impl::index(const QueueKey& key, QueuedMessage msg, Partition& part,
                                  int64_t offset, Callbacks& cbs) {
  if (released(key)) return;
  if (auto r = released_topics_.find(key); r != released_topics_.end() && offset <= r->second.upto)
    return;
  Queue& q = queues_[key];
  // The same message id twice in Kafka (a push retried through another replica).
  if (q.ids.count(msg.message_id) || acked_.contains(key, msg.message_id)) return;
  msg.offset = static_cast<uint64_t>(offset);
  const uint64_t bytes = queue_bookkeeping::footprint(msg);
  count(key, msg, static_cast<int64_t>(bytes));
  q.ids[msg.message_id] = offset;
  q.ready.emplace(offset, std::move(msg));
  part.tracker.hold(offset);
  stored_bytes_ += bytes;
  messages_ += 1;
  serve_waiters(key, cbs);
}

void KafkaQueueStore::Impl::forget_ticket(const QueueKey& key, uint64_t ticket) {
  if (auto q = queues_.find(key); q != queues_.end()) std::erase(q->second.waiters, ticket);
}

void KafkaQueueStore::Impl::serve_waiters(const QueueKey& key, Callbacks& cbs) {
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

void KafkaQueueStore::Impl::retry_blocked(Callbacks& cbs) {
  for (auto it = blocked_.begin(); it != blocked_.end();) {
    if (!room_for(it->key, it->msg, queue_bookkeeping::footprint(it->msg)).ok()) {
      ++it;
      continue;
    }
    Blocked b = std::move(*it);
    it = blocked_.erase(it);
    do_push(b.key, std::move(b.msg), b.deadline, std::move(b.done), cbs);
  }
}

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
void KafkaQueueStore::served_topic(const std::string& node, const std::string& session,
                                   std::string base, TopicDone done) {
  impl_->served_topic(node, session, std::move(base), std::move(done));
}
QueueStats KafkaQueueStore::stats() const { return impl_->stats(); }
size_t KafkaQueueStore::index_entries() const { return impl_->index_entries(); }

namespace {
Status not_with_kafka(const char* what) {
  return Status::Error(Code::kBadRequest,
                       std::string(what) + " is not available with the Kafka queue store");
}
}  // namespace

void KafkaQueueStore::list_queues(const QueueFilter&, ListDone done) {
  done(not_with_kafka("listing queues"), {}, false);
}

void KafkaQueueStore::peek_messages(const QueueKey&, size_t, PeekDone done) {
  done(not_with_kafka("peeking several messages"), {});
}

void KafkaQueueStore::purge(const std::string&, const std::string&, std::optional<std::string>,
                            PurgeDone done) {
  done(not_with_kafka("purging queues"), 0);
}

std::vector<std::string> KafkaQueueStore::nodes_at_open() const { return impl_->nodes_at_open(); }

void KafkaQueueStore::queues_of(const std::string& node, KeysDone done) {
  impl_->queues_of(node, std::move(done));
}

}  // namespace ptp
