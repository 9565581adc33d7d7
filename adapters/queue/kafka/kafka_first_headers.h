// A blocking look into topics at start-up: one header of the first record found in each
// topic, read by a consumer of its own (it joins no group and commits nothing). The Kafka
// queue store learns this way which node a topic whose name does not spell the node's
// id belongs to (kafka_node_component, docs/queues-kafka.md "Start-up").
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ptp {

// For each of `topics` that has a record carrying header `name`, that header's value in
// the first such record read (of any partition, from its earliest retained record).
// Topics without records, or not found, are left out. `config` are the librdkafka
// properties of the consumer (bootstrap.servers, security settings, and a group.id, which
// librdkafka wants for an assignment: the consumer neither joins the group nor commits).
// Gives up after `timeout`, returning what it found; `error` is set when the consumer
// could not be created or the metadata request failed.
std::map<std::string, std::string> kafka_first_headers(std::map<std::string, std::string> config,
                                                       const std::vector<std::string>& topics,
                                                       std::string_view name,
                                                       std::chrono::milliseconds timeout,
                                                       std::string& error);

}  // namespace ptp
