// The Kafka queue store's service thread: attaches node topics, sweeps released sessions.
#include "adapters/queue/kafka/kafka_queue_store_impl.h"

namespace ptp {

void KafkaQueueStore::Impl::service_loop() {
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

void KafkaQueueStore::Impl::attach(const std::string& node) {
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

void KafkaQueueStore::Impl::attach_failed(const std::string& node, const std::string& why) {
  Callbacks cbs;
  {
    std::lock_guard lock(mu_);
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return;
    Status st = Status::Error(Code::kSystemError, "kafka: cannot attach node " + node + ": " + why);
    for (auto& op : it->second.pending) op(cbs, st);
    // Forget it, so the next operation tries again (unless it was half-assigned).
    if (it->second.partitions == 0)
      nodes_.erase(it);
    else
      it->second.pending.clear();
  }
  for (auto& f : cbs) f();
}

void KafkaQueueStore::Impl::sweep(Callbacks& cbs) {
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
      busy |=
          !it->second.inflight.empty() || !it->second.leased.empty() || !it->second.waiters.empty();
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

}  // namespace ptp
