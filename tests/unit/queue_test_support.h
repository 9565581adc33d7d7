// Shared by the QueueStore tests: synchronous wrappers over the callback API, and the two
// backends the conformance suite (test_queue_conformance.cpp) runs against.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "adapters/kafka/mock_cluster.h"
#include "adapters/queue/embedded/embedded_queue_store.h"
#include "adapters/queue/kafka/kafka_queue_store.h"

namespace ptp::testing {

using namespace std::chrono_literals;
using PopResult = std::pair<Status, std::optional<QueuedMessage>>;

inline QueuedMessage message(const std::string& id, const std::string& body) {
  QueuedMessage m;
  m.message_id = id;
  m.env.body = body;
  m.env.header.session_id = "s1";
  m.env.header.source_node_id = "A";
  m.env.meta["message-topic"] = "t";
  return m;
}

inline Status push_sync(QueueStore& s, const QueueKey& k, const std::string& id,
                        const std::string& body, std::chrono::milliseconds wait = 0ms) {
  std::promise<Status> p;
  s.push(k, message(id, body), wait, [&](Status st) { p.set_value(st); });
  return p.get_future().get();
}

inline PopResult pop_sync(QueueStore& s, const QueueKey& k, std::chrono::milliseconds timeout) {
  std::promise<PopResult> p;
  s.pop(k, timeout, [&](Status st, std::optional<QueuedMessage> m) {
    p.set_value({st, std::move(m)});
  });
  return p.get_future().get();
}

inline PopResult peek_sync(QueueStore& s, const QueueKey& k) {
  std::promise<PopResult> p;
  s.peek(k, [&](Status st, std::optional<QueuedMessage> m) { p.set_value({st, std::move(m)}); });
  return p.get_future().get();
}

// Returns once the store serves `node`: a Kafka store answers a peek only after reading
// the node's partitions to their end (after a restart), so a short pop that follows
// tests what was stored rather than how fast the store caught up.
inline void wait_caught_up(QueueStore& s, const std::string& node) {
  auto [st, m] = peek_sync(s, QueueKey{node, "caught-up-probe", "probe"});
  REQUIRE_MESSAGE(st.ok(), st.to_string());
}

inline Status release_sync(QueueStore& s, const std::string& node, const std::string& session,
                           std::optional<std::string> topic = std::nullopt) {
  std::promise<Status> p;
  s.release(node, session, std::move(topic), [&](Status st) { p.set_value(st); });
  return p.get_future().get();
}

struct ListResult {
  Status status;
  std::vector<QueueInfo> queues;
  bool truncated = false;
};

inline ListResult list_sync(QueueStore& s, const QueueFilter& f) {
  std::promise<ListResult> p;
  s.list_queues(f, [&](Status st, std::vector<QueueInfo> q, bool truncated) {
    p.set_value({st, std::move(q), truncated});
  });
  return p.get_future().get();
}

inline std::pair<Status, std::vector<PeekedMessage>> peek_messages_sync(QueueStore& s,
                                                                        const QueueKey& k,
                                                                        size_t count) {
  std::promise<std::pair<Status, std::vector<PeekedMessage>>> p;
  s.peek_messages(k, count, [&](Status st, std::vector<PeekedMessage> m) {
    p.set_value({st, std::move(m)});
  });
  return p.get_future().get();
}

inline std::pair<Status, uint64_t> purge_sync(QueueStore& s, const std::string& node,
                                              const std::string& session,
                                              std::optional<std::string> topic = std::nullopt) {
  std::promise<std::pair<Status, uint64_t>> p;
  s.purge(node, session, std::move(topic), [&](Status st, uint64_t n) { p.set_value({st, n}); });
  return p.get_future().get();
}

// Pushes n messages "<tag><i>" concurrently (all in flight at once); each must succeed.
inline void push_many(QueueStore& s, const QueueKey& k, int n, const std::string& tag = "m") {
  std::vector<std::promise<Status>> ps(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    s.push(k, message(tag + std::to_string(i), "payload " + std::to_string(i)), 5s,
           [&ps, i](Status st) { ps[static_cast<size_t>(i)].set_value(st); });
  for (auto& p : ps) {
    Status st = p.get_future().get();
    REQUIRE_MESSAGE(st.ok(), st.to_string());
  }
}

// Pops (and acks) until a pop times out; returns the ids in order. The first pop waits
// longer: after a (re)start a Kafka store first reads the node's partitions to their end.
inline std::vector<std::string> drain(QueueStore& s, const QueueKey& k,
                                      std::chrono::milliseconds timeout = 1000ms) {
  std::vector<std::string> ids;
  while (true) {
    auto [st, m] =
        pop_sync(s, k, ids.empty() ? std::max<std::chrono::milliseconds>(timeout, 3s) : timeout);
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    if (!m) return ids;
    ids.push_back(m->message_id);
    s.ack(k, m->offset);
  }
}

// The embedded store in a fresh directory; open() again finds the same data.
struct EmbeddedBackend {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("ptp-q-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
  EmbeddedBackend() { std::filesystem::remove_all(dir); }
  ~EmbeddedBackend() { std::filesystem::remove_all(dir); }

  std::unique_ptr<QueueStore> open(QueueLimits limits = {}) const {
    EmbeddedQueueOptions o;
    o.path = dir.string();
    o.limits = limits;
    Status err;
    auto s = EmbeddedQueueStore::open(o, err);
    REQUIRE_MESSAGE(s, err.to_string());
    return s;
  }
};

// A Kafka to test against: a fresh 3-broker mock cluster, or the external broker of
// PTP_TEST_KAFKA_BOOTSTRAP; either way with a topic prefix unique to this run, so open()
// again finds the same data.
struct KafkaBackend {
  std::unique_ptr<MockCluster> mock;
  std::string bootstrap;
  std::string prefix;

  KafkaBackend() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    prefix = "ptptest." + std::to_string(rd() % 1000000) + "." + std::to_string(++counter);
    if (const char* ext = std::getenv("PTP_TEST_KAFKA_BOOTSTRAP"); ext && *ext) {
      bootstrap = ext;
      return;
    }
    std::string err;
    mock = MockCluster::start(3, err);
    REQUIRE_MESSAGE(mock, err);
    bootstrap = mock->bootstrap();
  }

  KafkaQueueOptions options(QueueLimits limits = {}) const {
    KafkaQueueOptions o;
    o.bootstrap_servers = bootstrap;
    o.topic_prefix = prefix;
    o.create_topics = !mock;  // the mock broker auto-creates topics instead
    o.replication_factor = 1;
    o.partitions = 4;
    o.limits = limits;
    o.commit_interval = 50ms;
    o.attach_timeout = 20s;
    o.producer_config = {{"linger.ms", "1"}};
    o.consumer_config = {{"fetch.wait.max.ms", "10"}, {"fetch.error.backoff.ms", "50"}};
    if (const char* d = std::getenv("PTP_KAFKA_DEBUG_RDKAFKA"))
      o.consumer_config.insert({{"debug", d}, {"log_level", "7"}});
    return o;
  }

  std::unique_ptr<QueueStore> open(QueueLimits limits = {}) const {
    return open_with(options(limits));
  }
  static std::unique_ptr<KafkaQueueStore> open_with(const KafkaQueueOptions& o) {
    Status st;
    auto s = KafkaQueueStore::open(o, st);
    REQUIRE_MESSAGE(s, st.to_string());
    return s;
  }
};

}  // namespace ptp::testing
