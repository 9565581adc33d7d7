// push->pop throughput of the Kafka queue store against plain librdkafka moving the same
// messages (same sizes, same producer settings: idempotent, acks=all) through the same
// mock cluster (or PTP_BENCH_KAFKA_BOOTSTRAP), in one run; prints both and the ratio.
//   ptp-bench-kafka_queue_bench [--count-1k N] [--count-1m N] [--in-flight N]
#include <cstdlib>
#include <random>

#include "adapters/kafka/mock_cluster.h"
#include "adapters/queue/kafka/kafka_client.h"
#include "adapters/queue/kafka/kafka_queue_store.h"
#include "common/version.h"
#include "tests/bench/queue_bench_common.h"

using namespace ptp;
using namespace ptp::bench;

namespace {

const std::map<std::string, std::string> kProducer = {{"enable.idempotence", "true"},
                                                      {"acks", "all"},
                                                      {"linger.ms", "5"},
                                                      {"queue.buffering.max.kbytes", "2097151"},
                                                      {"message.max.bytes", "2000000"}};

// A producer thread produces `count` records keeping `in_flight` undelivered (and, with
// max_lag, at most that many produced but not yet consumed); a consumer reads them
// (assigned partition, offsets committed every 200 ms, as the store does).
Result plain_librdkafka(const std::string& bootstrap, const std::string& topic, uint64_t count,
                        size_t size, unsigned in_flight, uint64_t max_lag) {
  std::string err;
  KafkaConf pc(rd_kafka_conf_new());
  auto props = kProducer;
  props["bootstrap.servers"] = bootstrap;
  kafka_set(pc.get(), props);
  struct Window {
    std::mutex mu;
    std::condition_variable cv;
    unsigned outstanding = 0;
  } window;
  rd_kafka_conf_set_opaque(pc.get(), &window);
  rd_kafka_conf_set_dr_msg_cb(pc.get(), [](rd_kafka_t*, const rd_kafka_message_t*, void* op) {
    auto* w = static_cast<Window*>(op);
    std::lock_guard lock(w->mu);
    --w->outstanding;
    w->cv.notify_one();
  });
  KafkaHandle producer = kafka_new(RD_KAFKA_PRODUCER, std::move(pc), err);
  KafkaConf cc(rd_kafka_conf_new());
  kafka_set(cc.get(), {{"bootstrap.servers", bootstrap},
                       {"group.id", topic + ".plain"},
                       {"enable.auto.commit", "false"},
                       {"fetch.wait.max.ms", "20"},
                       {"auto.offset.reset", "earliest"}});
  KafkaHandle consumer = kafka_new(RD_KAFKA_CONSUMER, std::move(cc), err);
  if (!producer || !consumer) {
    std::fprintf(stderr, "librdkafka: %s\n", err.c_str());
    std::exit(1);
  }
  rd_kafka_poll_set_consumer(consumer.get());
  kafka_partition_count(producer.get(), topic, std::chrono::seconds(10), err);
  kafka_partition_count(consumer.get(), topic, std::chrono::seconds(10), err);
  KafkaPartitionList assign(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(assign.get(), topic.c_str(), 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(consumer.get(), assign.get());

  std::string payload(size, 'x');
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> consumed{0};
  auto start = Clock::now();
  std::thread poller([&] {
    while (!stop) rd_kafka_poll(producer.get(), 10);
  });
  std::thread consumer_thread([&] {
    uint64_t got = 0;
    auto next_commit = Clock::now();
    while (got < count) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), 100);
      if (!m) continue;
      if (!m->err) consumed = ++got;
      rd_kafka_message_destroy(m);
      if (Clock::now() >= next_commit) {
        rd_kafka_commit(consumer.get(), nullptr, 1);
        next_commit = Clock::now() + std::chrono::milliseconds(200);
      }
    }
  });
  for (uint64_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(window.mu);
      window.cv.wait(lock, [&] { return window.outstanding < in_flight; });
      ++window.outstanding;
    }
    while (i >= consumed + max_lag) std::this_thread::sleep_for(std::chrono::microseconds(200));
    const std::string key = std::to_string(i);
    while (rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key.data(), key.size()),
                             RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                             RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  consumer_thread.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  rd_kafka_flush(producer.get(), 10000);
  stop = true;
  poller.join();
  rd_kafka_consumer_close(consumer.get());
  return {secs, count, count * size};
}

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-bench-kafka_queue_bench")) return 0;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  uint64_t count_1k = 100000, count_1m = 1000;
  unsigned in_flight = 256;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--count-1k")
      count_1k = std::stoull(next());
    else if (a == "--count-1m")
      count_1m = std::stoull(next());
    else if (a == "--in-flight")
      in_flight = static_cast<unsigned>(std::stoul(next()));
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  std::unique_ptr<MockCluster> mock;
  std::string bootstrap;
  if (const char* ext = std::getenv("PTP_BENCH_KAFKA_BOOTSTRAP"); ext && *ext) {
    bootstrap = ext;
  } else {
    std::string err;
    mock = MockCluster::start(1, err);
    if (!mock) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return 1;
    }
    bootstrap = mock->bootstrap();
  }
  const std::string run_id = std::to_string(std::random_device{}() % 100000);
  std::printf("Kafka: %s, %u pushes in flight\n",
              mock ? "librdkafka mock cluster (1 broker)" : bootstrap.c_str(), in_flight);
  for (auto [size, count, name] : {std::tuple{size_t(1024), count_1k, "1KiB"},
                                   std::tuple{size_t(1) << 20, count_1m, "1MiB"}}) {
    const std::string prefix = "bench." + run_id + "." + name;
    if (mock) {
      mock->create_topic(prefix + ".B", 1, 1);
      mock->create_topic(prefix + ".plain", 1, 1);
    }
    KafkaQueueOptions o;
    o.bootstrap_servers = bootstrap;
    o.topic_prefix = prefix;
    o.create_topics = !mock;
    o.partitions = 1;
    o.replication_factor = 1;
    o.limits.max_session_bytes = o.limits.max_total_bytes = 1ull << 40;
    o.limits.max_message_bytes = 2 << 20;
    o.producer_config = {{"linger.ms", "5"}};
    Status st;
    auto store = KafkaQueueStore::open(o, st);
    if (!store) {
      std::fprintf(stderr, "%s\n", st.to_string().c_str());
      return 1;
    }
    // The mock broker keeps only ~5 MB per partition: large messages run with a small
    // window so that neither consumer falls behind the log's start.
    const unsigned window = size > 65536 && mock ? std::min(in_flight, 4u) : in_flight;
    Result ours = run(*store, count, size, window);
    store.reset();
    Result plain = plain_librdkafka(bootstrap, prefix + ".plain", count, size, window,
                                    window == in_flight ? count : window);
    report((std::string(name) + " kafka store").c_str(), ours);
    report((std::string(name) + " plain librdkafka").c_str(), plain);
    std::printf("%-28s %.2fx (msgs/s, store / plain)\n", (std::string(name) + " ratio").c_str(),
                (ours.messages / ours.seconds) / (plain.messages / plain.seconds));
  }
  return 0;
}
