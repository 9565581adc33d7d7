// Configuration sections of the queues and the Kafka attachment.
#include <algorithm>

#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {
namespace {

QueueDialect parse_dialect(const Section& s, QueueDialect d) {
  if (auto v = s.opt_string("push_layout")) {
    if (*v != "current" && *v != "legacy")
      fail(s.at("push_layout"), "expected current or legacy, got " + quote_value(*v));
    d.legacy_push_layout = *v == "legacy";
  }
  if (auto v = s.opt_string("reply_layout")) {
    if (*v != "current" && *v != "legacy")
      fail(s.at("reply_layout"), "expected current or legacy, got " + quote_value(*v));
    d.reply_layout = *v == "legacy" ? TransportLayout::kLegacy : TransportLayout::kCurrent;
  }
  if (auto v = s.opt_string("timeout_unit")) {
    if (*v != "s" && *v != "ms")
      fail(s.at("timeout_unit"), "expected s or ms, got " + quote_value(*v));
    d.timeout_unit = *v == "ms" ? TimeoutUnit::kMilliseconds : TimeoutUnit::kSeconds;
  }
  d.peek_removes = s.boolean("peek_removes", d.peek_removes);
  return d;
}

// A mapping of strings (e.g. librdkafka properties), passed on as is.
void parse_string_map(const Section& s, const char* key, std::map<std::string, std::string>& out) {
  YAML::Node m = s.get(key);
  if (!m || m.IsNull()) return;
  if (!m.IsMap()) fail(s.at(key), "expected a mapping, got " + kind_name(m));
  for (const auto& kv : m) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar())
      fail(s.at(key), "expected name: value pairs of strings");
    out[kv.first.Scalar()] = kv.second.Scalar();
  }
}

}  // namespace

void parse_queue(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  Section s(
      root["queue"], "queue",
      {"enabled", "store", "path", "sync", "min_free_disk_bytes", "kafka", "limits",
       "default_pop_timeout_ms", "default_push_wait_ms", "outbox_ttl_s", "retry_min_ms",
       "retry_max_ms", "outbox_concurrency", "dead_letter_topic", "default_dialect", "dialects"});
  QueueConfig& q = cfg.queue;
  q.enabled = s.boolean("enabled", q.enabled);
  std::string store = s.string("store", "embedded");
  if (store != "embedded" && store != "kafka")
    fail(s.at("store"), "expected embedded or kafka, got " + quote_value(store));
  q.backend = store == "kafka" ? QueueBackend::kKafka : QueueBackend::kEmbedded;
  q.path = files.path(s.string("path", "data/" + cfg.node_id));
  q.sync = s.boolean("sync", q.sync);
  q.min_free_disk_bytes = static_cast<uint64_t>(
      s.integer("min_free_disk_bytes", static_cast<int64_t>(q.min_free_disk_bytes), 0, 1LL << 50));
  {
    Section k(s.get("kafka"), s.at("kafka"),
              {"bootstrap", "topic_prefix", "group_id", "replica_index", "replica_count", "pushes",
               "partitions", "replication_factor", "create_topics", "properties",
               "producer_properties", "consumer_properties"});
    q.kafka_bootstrap = k.string("bootstrap", "");
    q.kafka_topic_prefix = k.string("topic_prefix", q.kafka_topic_prefix);
    q.kafka_group_id = k.string("group_id", "");
    q.kafka_replica_count =
        static_cast<int>(k.integer("replica_count", q.kafka_replica_count, 1, 1024));
    q.kafka_replica_index = static_cast<int>(
        k.integer("replica_index", q.kafka_replica_index, 0, q.kafka_replica_count - 1));
    const std::string pushes = k.string("pushes", "owner");
    if (pushes != "owner" && pushes != "any")
      fail(k.at("pushes"), "expected owner or any, got " + quote_value(pushes));
    q.kafka_pushes_to_owner = pushes == "owner";
    q.kafka_partitions = static_cast<int>(k.integer("partitions", q.kafka_partitions, 1, 10000));
    q.kafka_replication_factor =
        static_cast<int>(k.integer("replication_factor", q.kafka_replication_factor, 1, 100));
    q.kafka_create_topics = k.boolean("create_topics", q.kafka_create_topics);
    parse_string_map(k, "properties", q.kafka_properties);
    parse_string_map(k, "producer_properties", q.kafka_producer_properties);
    parse_string_map(k, "consumer_properties", q.kafka_consumer_properties);
    if (q.backend == QueueBackend::kKafka && q.kafka_bootstrap.empty())
      fail(k.at("bootstrap"), "required when queue.store is kafka");
  }
  {
    Section l(s.get("limits"), s.at("limits"),
              {"max_message_bytes", "max_session_bytes", "max_total_bytes", "session_idle_expiry_s",
               "dedup_window_s", "dedup_max_ids", "max_session_messages", "max_source_bytes",
               "max_target_bytes"});
    QueueLimits& ql = q.limits;
    ql.max_message_bytes = static_cast<uint64_t>(
        l.integer("max_message_bytes", static_cast<int64_t>(ql.max_message_bytes), 1, 1LL << 40));
    ql.max_session_bytes = static_cast<uint64_t>(
        l.integer("max_session_bytes", static_cast<int64_t>(ql.max_session_bytes), 1, 1LL << 50));
    ql.max_total_bytes = static_cast<uint64_t>(
        l.integer("max_total_bytes", static_cast<int64_t>(ql.max_total_bytes), 1, 1LL << 50));
    // Unset: a quarter of the store, so at least four peers fill it before any is refused.
    ql.max_source_bytes = static_cast<uint64_t>(l.integer(
        "max_source_bytes", static_cast<int64_t>(std::max<uint64_t>(1, ql.max_total_bytes / 4)), 1,
        1LL << 50));
    // The outbox's share per target node; unset: a quarter of the store, like the above.
    ql.max_target_bytes = static_cast<uint64_t>(l.integer(
        "max_target_bytes", static_cast<int64_t>(std::max<uint64_t>(1, ql.max_total_bytes / 4)), 1,
        1LL << 50));
    ql.session_idle_expiry = std::chrono::seconds(
        l.integer("session_idle_expiry_s", ql.session_idle_expiry.count(), 1, 365LL * 24 * 3600));
    ql.dedup_window = std::chrono::seconds(
        l.integer("dedup_window_s", ql.dedup_window.count(), 0, 30LL * 24 * 3600));
    ql.dedup_max_ids = static_cast<size_t>(
        l.integer("dedup_max_ids", static_cast<int64_t>(ql.dedup_max_ids), 0, 1'000'000'000LL));
    ql.max_session_messages = static_cast<uint64_t>(l.integer(
        "max_session_messages", static_cast<int64_t>(ql.max_session_messages), 1, 1LL << 40));
  }
  q.default_pop_timeout = std::chrono::milliseconds(
      s.integer("default_pop_timeout_ms", q.default_pop_timeout.count(), 0, 24LL * 3600 * 1000));
  q.default_push_wait = std::chrono::milliseconds(
      s.integer("default_push_wait_ms", q.default_push_wait.count(), 0, 24LL * 3600 * 1000));
  q.outbox_ttl =
      std::chrono::seconds(s.integer("outbox_ttl_s", q.outbox_ttl.count(), 1, 365LL * 24 * 3600));
  q.retry_min = positive_ms(s, "retry_min_ms", q.retry_min);
  q.retry_max = positive_ms(s, "retry_max_ms", q.retry_max);
  if (q.retry_max < q.retry_min) fail(s.at("retry_max_ms"), "must be at least retry_min_ms");
  // Outbox delivery and dead letters.
  q.outbox_concurrency =
      static_cast<int>(s.integer("outbox_concurrency", q.outbox_concurrency, 1, 1024));
  q.dead_letter_topic = s.string("dead_letter_topic", q.dead_letter_topic);
  if (q.dead_letter_topic.empty() || q.dead_letter_topic.size() > 256 ||
      std::any_of(q.dead_letter_topic.begin(), q.dead_letter_topic.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    fail(s.at("dead_letter_topic"), "must be 1 to 256 characters, no spaces or control characters");
  q.default_dialect =
      parse_dialect(Section(s.get("default_dialect"), s.at("default_dialect"),
                            {"push_layout", "reply_layout", "timeout_unit", "peek_removes"}),
                    q.default_dialect);
  YAML::Node ds = s.get("dialects");
  if (ds && !ds.IsNull()) {
    if (!ds.IsMap())
      fail(s.at("dialects"), "expected a mapping of vendor code to dialect, got " + kind_name(ds));
    for (const auto& kv : ds) {
      if (!kv.first.IsScalar()) fail(s.at("dialects"), "keys must be vendor codes");
      const std::string path = s.at("dialects") + "." + kv.first.Scalar();
      q.dialects[kv.first.Scalar()] = parse_dialect(
          Section(kv.second, path, {"push_layout", "reply_layout", "timeout_unit", "peek_removes"}),
          q.default_dialect);
    }
  }
}

void parse_kafka_attachment(const YAML::Node& root, Config& cfg) {
  Section s(root["kafka_attachment"], "kafka_attachment",
            {"bootstrap", "ingress_topic", "egress_topic", "group_id", "properties"});
  KafkaAttachmentConfig& k = cfg.kafka_attachment;
  k.bootstrap = s.string("bootstrap", "");
  k.ingress_topic = s.string("ingress_topic", "");
  k.egress_topic = s.string("egress_topic", "");
  k.group_id = s.string("group_id", "ptp-gateway." + cfg.node_id);
  parse_string_map(s, "properties", k.properties);
  if (k.enabled() && k.bootstrap.empty())
    fail(s.at("bootstrap"), "required with ingress_topic or egress_topic");
  if (k.enabled() && !cfg.queue.enabled)
    fail(s.at("ingress_topic"), "the Kafka attachment needs queue.enabled");
}

}  // namespace ptp::config_yaml
