// The Kafka queue store's producer thread: delivery reports complete pushes and releases.
#include "adapters/queue/kafka/kafka_queue_store_impl.h"

namespace ptp {

void KafkaQueueStore::Impl::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  std::unique_ptr<Produce> p(static_cast<Produce*>(m->_private));
  static_cast<Impl*>(opaque)->delivered(std::move(p), m->err, m->partition, m->offset);
}

void KafkaQueueStore::Impl::delivered(std::unique_ptr<Produce> p, rd_kafka_resp_err_t err,
                                      int32_t partition, int64_t offset) {
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
      count(p->key, p->msg, -static_cast<int64_t>(p->bytes));
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

}  // namespace ptp
