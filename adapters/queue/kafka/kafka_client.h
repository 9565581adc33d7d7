// Small RAII and blocking helpers around the librdkafka C API, shared by the Kafka queue
// store and its benchmark. Blocking calls are for setup paths only.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ptp {

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

struct KafkaConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaConfDeleter>;

struct KafkaListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using KafkaPartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaListDeleter>;

// Calls fn(name, value) for every header of a consumed record, in order.
template <class Fn>
void kafka_for_each_header(const rd_kafka_message_t* m, Fn&& fn) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  const char* name = nullptr;
  const void* val = nullptr;
  size_t size = 0;
  for (size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
    fn(std::string_view(name), std::string_view(static_cast<const char*>(val), val ? size : 0));
}

// Sets every property; the error text of the first one rejected, or empty.
std::string kafka_set(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& props);

// Creates a client of `type` from conf (consumed on success); null with `error` set.
KafkaHandle kafka_new(rd_kafka_type_t type, KafkaConf conf, std::string& error);

// CreateTopics; an existing topic is not an error. Error text, or empty.
std::string kafka_create_topic(rd_kafka_t* rk, const std::string& topic, int partitions,
                               int replication, const std::map<std::string, std::string>& config,
                               std::chrono::milliseconds timeout);

// The partition count of `topic`, retrying until it exists or `timeout`; -1 and `error`.
int kafka_partition_count(rd_kafka_t* rk, const std::string& topic,
                          std::chrono::milliseconds timeout, std::string& error);

// The names of every topic of the cluster; empty with `error` set when the metadata
// request fails.
std::vector<std::string> kafka_topic_names(rd_kafka_t* rk, std::chrono::milliseconds timeout,
                                           std::string& error);

}  // namespace ptp
