// The Kafka queue store's consumer thread: indexes records, expires waits, commits offsets.
#include "adapters/queue/kafka/kafka_queue_store_impl.h"

namespace ptp {

void KafkaQueueStore::Impl::consume_loop() {
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

void KafkaQueueStore::Impl::handle(const rd_kafka_message_t* m) {
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

void KafkaQueueStore::Impl::remember_done(const QueueKey& key, const std::string& id,
                                          const rd_kafka_message_t* m) {
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

void KafkaQueueStore::Impl::control_record(const std::string& node, const rd_kafka_message_t* m,
                                           Callbacks& cbs) {
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

void KafkaQueueStore::Impl::reached_end(const PartitionId& pid, Callbacks& cbs) {
  for (auto& [name, node] : nodes_) {
    if (node.ready || !node.awaiting_eof.erase(pid) || !node.awaiting_eof.empty()) continue;
    if (node.partitions == 0) continue;  // not assigned yet
    node.ready = true;
    auto ops = std::move(node.pending);
    node.pending.clear();
    for (auto& op : ops) op(cbs, Status::Ok());
  }
}

void KafkaQueueStore::Impl::expire() {
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
      Status room = room_for(it->key, it->msg, queue_bookkeeping::footprint(it->msg));
      if (room.ok())  // room came meanwhile (retried at the next removal): still refused now
        room = Status::Error(Code::kBufferFull, "no room for the message in time");
      answer(cbs, std::move(it->done), std::move(room));
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

bool KafkaQueueStore::Impl::commit(bool final) {
  const bool async = !final;
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(8));
  {
    std::lock_guard lock(mu_);
    // Sent once the previous one has completed (the final one: the destructor waited).
    if (commit_in_flight_ && !final) return true;
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
  if (async) {
    std::lock_guard lock(mu_);
    commit_in_flight_ = true;  // before the send: on_commit may run on another thread
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), async ? 1 : 0);
  if (async && err != RD_KAFKA_RESP_ERR_NO_ERROR) {  // not sent: no on_commit will come
    {
      std::lock_guard lock(mu_);
      commit_in_flight_ = false;
    }
    forget_sent(list.get());
    return true;
  }
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

void KafkaQueueStore::Impl::forget_sent(const rd_kafka_topic_partition_list_t* list) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < list->cnt; ++i)
    if (auto it = partitions_.find({list->elems[i].topic, list->elems[i].partition});
        it != partitions_.end())
      it->second.sent_offset = -1;
}

void KafkaQueueStore::Impl::on_commit(rd_kafka_t*, rd_kafka_resp_err_t err,
                                      rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; offsets && i < offsets->cnt; ++i)
    failed |= offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR;
  auto* self = static_cast<Impl*>(opaque);
  if (failed && offsets) self->forget_sent(offsets);
  std::lock_guard lock(self->mu_);
  self->commit_in_flight_ = false;
}

}  // namespace ptp
