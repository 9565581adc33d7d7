#include "adapters/queue/kafka/kafka_first_headers.h"

#include <set>

#include "adapters/queue/kafka/kafka_client.h"

namespace ptp {

std::map<std::string, std::string> kafka_first_headers(std::map<std::string, std::string> config,
                                                       const std::vector<std::string>& topics,
                                                       std::string_view name,
                                                       std::chrono::milliseconds timeout,
                                                       std::string& error) {
  std::map<std::string, std::string> found;
  if (topics.empty()) return found;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  config["enable.auto.commit"] = "false";
  config["enable.partition.eof"] = "true";  // an empty topic is done at once
  config["auto.offset.reset"] = "earliest";
  if (!config.contains("log_level")) config["log_level"] = "3";
  KafkaConf conf(rd_kafka_conf_new());
  if (error = kafka_set(conf.get(), config); !error.empty()) return found;
  KafkaHandle rk = kafka_new(RD_KAFKA_CONSUMER, std::move(conf), error);
  if (!rk) return found;
  rd_kafka_poll_set_consumer(rk.get());

  // Every partition of every topic from its beginning; a topic is done at its first record
  // with the header, or once all its partitions were read to their end.
  const std::set<std::string> wanted(topics.begin(), topics.end());
  std::map<std::string, std::set<int32_t>> left;
  KafkaPartitionList assign(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_resp_err_t e =
          rd_kafka_metadata(rk.get(), 1, nullptr, &md, static_cast<int>(timeout.count()));
      e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_err2str(e);
    return found;
  }
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (!wanted.contains(t.topic)) continue;
    for (int p = 0; p < t.partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(assign.get(), t.topic, t.partitions[p].id)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
      left[t.topic].insert(t.partitions[p].id);
    }
  }
  rd_kafka_metadata_destroy(md);
  if (assign->cnt == 0) return found;
  if (rd_kafka_resp_err_t e = rd_kafka_assign(rk.get(), assign.get());
      e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_err2str(e);
    return found;
  }
  while (!left.empty() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (!m) continue;
    if (m->rkt) {
      auto t = left.find(rd_kafka_topic_name(m->rkt));
      if (t != left.end() && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        t->second.erase(m->partition);
        if (t->second.empty()) left.erase(t);
      } else if (t != left.end() && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        bool has = false;
        kafka_for_each_header(m, [&](std::string_view n, std::string_view v) {
          if (has || n != name) return;
          found[t->first] = std::string(v);
          has = true;
        });
        if (has) left.erase(t);
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
  return found;
}

}  // namespace ptp
