// An in-process Kafka cluster (librdkafka's mock cluster, rdkafka_mock.h) for tests,
// benchmarks and the gateway's demo mode. It speaks the real Kafka protocol on loopback,
// so any client (this process, kcat) can use bootstrap(). Errors and latencies can be
// injected per request type to exercise retry paths.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ptp {

// Kafka protocol request types (ApiKey) that tests inject errors into.
enum class KafkaApi : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kInitProducerId = 22,
};

class MockCluster {
 public:
  // Starts `brokers` brokers (ids 1..brokers); null with `error` set on failure.
  static std::unique_ptr<MockCluster> start(int brokers, std::string& error);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:port,..." for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  int brokers() const { return brokers_; }

  // The mock broker does not implement the CreateTopics admin request; create here.
  bool create_topic(const std::string& topic, int partitions, int replication = 1);

  // The next errors.size() requests of type `api` (to any broker) fail with these errors.
  void push_request_errors(KafkaApi api, const std::vector<rd_kafka_resp_err_t>& errors);
  // The next requests of type `api` to `broker` fail (or succeed, with NO_ERROR) after rtt.
  struct ErrorRtt {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    int rtt_ms = 0;
  };
  void push_broker_errors(int32_t broker, KafkaApi api, const std::vector<ErrorRtt>& errors);
  void clear_request_errors(KafkaApi api);

  // Takes a broker's listener down (connections refused) or back up.
  void broker_down(int32_t broker);
  void broker_up(int32_t broker);
  void set_rtt(int32_t broker, int rtt_ms);
  void set_leader(const std::string& topic, int32_t partition, int32_t broker);

  rd_kafka_mock_cluster_t* raw() const { return cluster_; }

 private:
  MockCluster() = default;

  struct HandleDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  };
  std::unique_ptr<rd_kafka_t, HandleDeleter> owner_;  // book-keeping handle the cluster needs
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
  int brokers_ = 0;
};

}  // namespace ptp
