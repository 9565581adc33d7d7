#include "adapters/kafka/mock_cluster.h"

#include <array>

namespace ptp {

std::unique_ptr<MockCluster> MockCluster::start(int brokers, std::string& error) {
  std::array<char, 512> err{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Quiet: the handle only does book-keeping for the cluster.
  rd_kafka_conf_set(conf, "log_level", "3", err.data(), err.size());
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err.data(), err.size());
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    error = std::string("cannot create the mock cluster's handle: ") + err.data();
    return nullptr;
  }
  std::unique_ptr<MockCluster> mc(new MockCluster());  // private constructor
  mc->owner_.reset(rk);
  mc->cluster_ = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc->cluster_) {
    error = "cannot start the mock Kafka cluster";
    return nullptr;
  }
  mc->bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc->cluster_);
  mc->brokers_ = brokers;
  return mc;
}

MockCluster::~MockCluster() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
}

bool MockCluster::create_topic(const std::string& topic, int partitions, int replication) {
  return rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
}

void MockCluster::push_request_errors(KafkaApi api,
                                      const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, static_cast<int16_t>(api), errors.size(),
                                          errors.data());
}

void MockCluster::push_broker_errors(int32_t broker, KafkaApi api,
                                     const std::vector<ErrorRtt>& errors) {
  // The C API is variadic (err, rtt_ms pairs); push them one at a time, in order.
  for (const ErrorRtt& e : errors)
    rd_kafka_mock_broker_push_request_error_rtts(cluster_, broker, static_cast<int16_t>(api), 1,
                                                 e.err, e.rtt_ms);
}

void MockCluster::clear_request_errors(KafkaApi api) {
  rd_kafka_mock_clear_request_errors(cluster_, static_cast<int16_t>(api));
}

void MockCluster::broker_down(int32_t broker) { rd_kafka_mock_broker_set_down(cluster_, broker); }
void MockCluster::broker_up(int32_t broker) { rd_kafka_mock_broker_set_up(cluster_, broker); }
void MockCluster::set_rtt(int32_t broker, int rtt_ms) {
  rd_kafka_mock_broker_set_rtt(cluster_, broker, rtt_ms);
}
void MockCluster::set_leader(const std::string& topic, int32_t partition, int32_t broker) {
  rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker);
}

}  // namespace ptp
