#include "adapters/kafka/kafka_egress.h"

#include "codecs/header_codec.h"

namespace ptp {
namespace {

// Lives in librdkafka (the message opaque) from produce to delivery report.
struct EgressProduce {
  QueuedMessage msg;
  QueueStore::Done done;
};

}  // namespace

std::unique_ptr<KafkaEgress> KafkaEgress::open(const KafkaEgressOptions& opts, Status& error) {
  std::unique_ptr<KafkaEgress> e(new KafkaEgress());  // private constructor
  e->topic_ = opts.topic;
  KafkaConf conf(rd_kafka_conf_new());
  std::map<std::string, std::string> p = {{"bootstrap.servers", opts.bootstrap_servers},
                                          {"enable.idempotence", "true"},
                                          {"acks", "all"},
                                          {"linger.ms", "2"},
                                          {"log_level", "3"}};
  for (const auto& [k, v] : opts.properties) p[k] = v;
  if (std::string err = kafka_set(conf.get(), p); !err.empty()) {
    error = Status::Error(Code::kBadRequest, "kafka_attachment producer: " + err);
    return nullptr;
  }
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaEgress::on_delivery);
  std::string err;
  e->producer_ = kafka_new(RD_KAFKA_PRODUCER, std::move(conf), err);
  if (!e->producer_) {
    error = Status::Error(Code::kSystemError, "kafka_attachment producer: " + err);
    return nullptr;
  }
  KafkaEgress* self = e.get();
  e->poller_ = std::thread([self] {
    while (!self->stop_) rd_kafka_poll(self->producer_.get(), 50);
  });
  return e;
}

KafkaEgress::~KafkaEgress() {
  if (producer_ && rd_kafka_flush(producer_.get(), 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer_.get(), 1000);  // serves the purged reports: every done runs
  }
  stop_ = true;
  if (poller_.joinable()) poller_.join();
}

void KafkaEgress::deliver(const QueueKey&, QueuedMessage msg, QueueStore::Done done) {
  auto p = std::make_unique<EgressProduce>();
  p->msg = std::move(msg);
  p->done = std::move(done);
  Envelope& env = p->msg.env;
  env.header.token.clear();  // a bearer credential of the sender; not for the platform
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(16);
  for (const auto& [name, value] : encode_headers(env))
    rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  if (!env.content_type.empty())
    rd_kafka_header_add(hdrs, "content-type", -1, env.content_type.data(),
                        static_cast<ssize_t>(env.content_type.size()));
  const std::string& session = env.header.session_id;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
      RD_KAFKA_V_KEY(session.data(), session.size()),
      RD_KAFKA_V_VALUE(env.body.empty() ? nullptr : env.body.data(), env.body.size()),
      RD_KAFKA_V_MSGFLAGS(0),  // no copy: the payload lives in *p until the report
      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(p.get()), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(hdrs);
    Code c = err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? Code::kBufferFull : Code::kSystemError;
    return p->done(
        Status::Error(c, std::string("kafka egress ") + topic_ + ": " + rd_kafka_err2str(err)));
  }
  (void)p.release();  // librdkafka holds it until on_delivery
}

void KafkaEgress::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  std::unique_ptr<EgressProduce> p(static_cast<EgressProduce*>(m->_private));
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return p->done(Status::Error(Code::kSystemError,
                                 std::string("kafka egress: ") + rd_kafka_err2str(m->err)));
  p->done(Status::Ok());
}

}  // namespace ptp
