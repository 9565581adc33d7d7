#include "adapters/kafka/kafka_ingress.h"

#include <future>

#include "codecs/header_codec.h"

namespace ptp {
namespace {

// Worth retrying: the store is full or down, the next hop unreachable or slow.
bool transient(Code c) {
  return c == Code::kBufferFull || c == Code::kSystemError || c == Code::kUnreachable ||
         c == Code::kTimeout;
}

}  // namespace

Status kafka_ingress_envelope(const rd_kafka_message_t* m, Envelope& env) {
  HeaderList list;
  kafka_for_each_header(m, [&](std::string_view name, std::string_view value) {
    if (name == "content-type")
      env.content_type = value;
    else
      list.emplace_back(name, value);
  });
  if (Status st = decode_headers(list, env); !st.ok()) return st;
  env.body.assign(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
  std::string& id = env.meta["message-id"];
  if (id.empty())
    id = "kafka-" + std::string(rd_kafka_topic_name(m->rkt)) + "-" + std::to_string(m->partition) +
         "-" + std::to_string(m->offset);
  return Status::Ok();
}

std::unique_ptr<KafkaIngress> KafkaIngress::open(const KafkaIngressOptions& opts, Submit submit,
                                                 Report report, Status& error) {
  std::unique_ptr<KafkaIngress> in(new KafkaIngress());  // private constructor
  in->opts_ = opts;
  in->submit_ = std::move(submit);
  in->report_ = std::move(report);
  KafkaConf conf(rd_kafka_conf_new());
  std::map<std::string, std::string> p = {
      {"bootstrap.servers", opts.bootstrap_servers},
      {"group.id", opts.group_id},
      {"auto.offset.reset", "earliest"},
      // Offsets are stored by hand once a record was accepted; only those are committed.
      {"enable.auto.offset.store", "false"},
      {"enable.auto.commit", "true"},
      {"auto.commit.interval.ms", "500"},
      {"log_level", "3"}};
  for (const auto& [k, v] : opts.properties) p[k] = v;
  if (std::string err = kafka_set(conf.get(), p); !err.empty()) {
    error = Status::Error(Code::kBadRequest, "kafka_attachment consumer: " + err);
    return nullptr;
  }
  std::string err;
  in->consumer_ = kafka_new(RD_KAFKA_CONSUMER, std::move(conf), err);
  if (!in->consumer_) {
    error = Status::Error(Code::kSystemError, "kafka_attachment consumer: " + err);
    return nullptr;
  }
  rd_kafka_poll_set_consumer(in->consumer_.get());
  KafkaPartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), opts.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(in->consumer_.get(), topics.get())) {
    error = Status::Error(Code::kSystemError,
                          "kafka_attachment subscribe " + opts.topic + ": " + rd_kafka_err2str(e));
    return nullptr;
  }
  in->thread_ = std::thread([self = in.get()] { self->run(); });
  return in;
}

KafkaIngress::~KafkaIngress() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (consumer_) rd_kafka_consumer_close(consumer_.get());  // commits the stored offsets
}

bool KafkaIngress::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stop_; });
}

void KafkaIngress::run() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) handle(m);
    rd_kafka_message_destroy(m);
  }
}

void KafkaIngress::handle(rd_kafka_message_t* m) {
  Envelope env;
  Status st = kafka_ingress_envelope(m, env);
  auto backoff = opts_.retry_min;
  while (st.ok()) {
    std::promise<Status> accepted;
    submit_(env, [&accepted](Status s) { accepted.set_value(std::move(s)); });
    st = accepted.get_future().get();
    if (st.ok() || !transient(st.code)) break;
    report_("retrying", env, st);
    if (!sleep_for(backoff)) return;  // stopping: not stored, consumed again next time
    backoff = std::min(backoff * 2, opts_.retry_max);
  }
  if (!st.ok()) report_("skipped", env, st);
  KafkaPartitionList done(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(done.get(), rd_kafka_topic_name(m->rkt), m->partition)->offset =
      m->offset + 1;  // the next record to read
  rd_kafka_offsets_store(consumer_.get(), done.get());
}

}  // namespace ptp
