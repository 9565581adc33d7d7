// ptp-kafka-mock: librdkafka's mock Kafka cluster as a process, for integration tests,
// benchmarks and demos. It speaks the real Kafka protocol on 127.0.0.1, so gateways and
// kcat can use it. Prints "bootstrap <servers>" on stdout, then reads commands, one per
// line, answering "ok" or "error <why>":
//   topic <name> <partitions>            create a topic
//   errors <api-key> <err-code> <count>  the next <count> requests of that Kafka API fail
//   down <broker-id> | up <broker-id>    take a broker's listener down / up
// It exits when stdin closes.
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/kafka/mock_cluster.h"
#include "common/version.h"

namespace {

std::string run(ptp::MockCluster& mc, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "topic") {
    std::string name;
    int partitions = 0;
    if (!(in >> name >> partitions) || partitions < 1) return "error usage: topic <name> <n>";
    return mc.create_topic(name, partitions, 1) ? "ok" : "error cannot create " + name;
  }
  if (cmd == "errors") {
    int api = 0, err = 0, count = 0;
    if (!(in >> api >> err >> count) || count < 0) return "error usage: errors <api> <err> <n>";
    mc.push_request_errors(static_cast<ptp::KafkaApi>(api),
                           std::vector<rd_kafka_resp_err_t>(static_cast<size_t>(count),
                                                            static_cast<rd_kafka_resp_err_t>(err)));
    return "ok";
  }
  if (cmd == "down" || cmd == "up") {
    int broker = 0;
    if (!(in >> broker) || broker < 1 || broker > mc.brokers()) return "error no such broker";
    cmd == "down" ? mc.broker_down(broker) : mc.broker_up(broker);
    return "ok";
  }
  return "error unknown command " + cmd;
}

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-kafka-mock")) return 0;
  const int brokers = argc > 1 ? std::atoi(argv[1]) : 1;
  std::string error;
  auto mc = ptp::MockCluster::start(brokers < 1 ? 1 : brokers, error);
  if (!mc) {
    std::cerr << "ptp-kafka-mock: " << error << "\n";
    return 1;
  }
  std::cout << "bootstrap " << mc->bootstrap() << std::endl;
  for (std::string line; std::getline(std::cin, line);)
    if (!line.empty()) std::cout << run(*mc, line) << std::endl;
  return 0;
}
