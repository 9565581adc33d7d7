#include "adapters/queue/kafka/kafka_client.h"

#include <array>
#include <thread>

namespace ptp {

std::string kafka_set(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& props) {
  std::array<char, 512> err{};
  for (const auto& [k, v] : props)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err.data(), err.size()) != RD_KAFKA_CONF_OK)
      return k + ": " + err.data();
  return {};
}

KafkaHandle kafka_new(rd_kafka_type_t type, KafkaConf conf, std::string& error) {
  std::array<char, 512> err{};
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err.data(), err.size());
  if (!rk) {
    error = err.data();
    return nullptr;
  }
  (void)conf.release();  // rd_kafka_new owns the configuration now
  return KafkaHandle(rk);
}

std::string kafka_create_topic(rd_kafka_t* rk, const std::string& topic, int partitions,
                               int replication, const std::map<std::string, std::string>& config,
                               std::chrono::milliseconds timeout) {
  std::array<char, 512> err{};
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication, err.data(), err.size());
  if (!nt) return err.data();
  for (const auto& [k, v] : config) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(timeout.count()), err.data(),
                                            err.size());
  rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
  std::string result = "CreateTopics timed out";
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(timeout.count()) + 1000)) {
    if (rd_kafka_event_error(ev)) {
      result = rd_kafka_event_error_string(ev);
    } else if (const auto* res = rd_kafka_event_CreateTopics_result(ev)) {
      size_t n = 0;
      const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
      result.clear();
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
          result = rd_kafka_err2str(e);
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  return result;
}

int kafka_partition_count(rd_kafka_t* rk, const std::string& topic,
                          std::chrono::milliseconds timeout, std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  int count = -1;
  error = "no metadata";
  while (count < 0) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topics[0].partition_cnt > 0)
        count = md->topics[0].partition_cnt;
      else if (md->topic_cnt == 1)
        error = rd_kafka_err2str(md->topics[0].err);
      rd_kafka_metadata_destroy(md);
    } else {
      error = rd_kafka_err2str(e);
    }
    if (count >= 0 || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  rd_kafka_topic_destroy(rkt);
  if (count < 0) error = "topic " + topic + ": " + error;
  return count;
}

std::vector<std::string> kafka_topic_names(rd_kafka_t* rk, std::chrono::milliseconds timeout,
                                           std::string& error) {
  std::vector<std::string> names;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, nullptr, &md, static_cast<int>(timeout.count()));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_err2str(e);
    return names;
  }
  for (int i = 0; i < md->topic_cnt; ++i) names.emplace_back(md->topics[i].topic);
  rd_kafka_metadata_destroy(md);
  return names;
}

}  // namespace ptp
