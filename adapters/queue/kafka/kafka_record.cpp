#include "adapters/queue/kafka/kafka_record.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

#include "codecs/hex.h"

namespace ptp {
namespace {

uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool kafka_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Kafka topic names: [a-zA-Z0-9._-], at most 249 characters. Room is left for ".control".
constexpr size_t kMaxBase = 200;

// "<prefix>.<component>"; only the prefix (configured) can hold characters Kafka refuses.
std::string topic_base(std::string_view prefix, std::string_view component) {
  std::string raw(prefix);
  raw += '.';
  raw += component;
  std::string out;
  bool changed = false;
  for (char c : raw) {
    out += kafka_char(c) ? c : '_';
    changed |= !kafka_char(c);
  }
  if (out.size() > kMaxBase) {
    out.resize(kMaxBase);
    changed = true;
  }
  if (changed) {
    char hex[20];
    std::snprintf(hex, sizeof hex, "_%08x", static_cast<unsigned>(fnv1a(raw) & 0xffffffffu));
    out += hex;
  }
  return out;
}

bool plain_id(std::string_view id) {
  return !id.empty() && !id.starts_with(kKafkaDigestMarker) &&
         std::all_of(id.begin(), id.end(), [](char c) { return c != '.' && kafka_char(c); });
}

}  // namespace

std::string kafka_node_component(std::string_view node) {
  if (plain_id(node)) return std::string(node);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(node.data(), node.size(), md, &len, EVP_sha256(), nullptr) != 1 || len < 8) {
    // Only an OpenSSL without SHA-256 gets here: FNV-1a keeps names legal and apart.
    const uint64_t h = fnv1a(node);
    for (int i = 0; i < 8; ++i) md[i] = static_cast<unsigned char>(h >> (56 - 8 * i));
  }
  return std::string(kKafkaDigestMarker) +
         hex_encode(std::string_view(reinterpret_cast<const char*>(md), 8));
}

std::string kafka_data_topic(std::string_view prefix, std::string_view node) {
  return topic_base(prefix, kafka_node_component(node));
}

std::string kafka_control_topic(std::string_view prefix, std::string_view node) {
  return topic_base(prefix, kafka_node_component(node)) + ".control";
}

int32_t kafka_partition_of(const QueueKey& key, int32_t partitions) {
  if (partitions <= 1) return 0;
  uint64_t h = fnv1a(key.session);
  h = fnv1a(std::string_view("\0", 1), h);
  h = fnv1a(key.topic, h);
  return static_cast<int32_t>(h % static_cast<uint64_t>(partitions));
}

std::optional<std::string> kafka_topic_served_by(const std::string& session,
                                                 const std::string& base, int32_t partitions,
                                                 int replica_count, int replica_index) {
  const int64_t parts = std::max<int32_t>(partitions, 1);
  if (replica_count < 1 || replica_index < 0 || replica_index >= parts) return std::nullopt;
  const int64_t owned = (parts - replica_index + replica_count - 1) / replica_count;
  const int64_t tries = 64 * ((parts + owned - 1) / owned);
  QueueKey key{"", session, base};
  for (int64_t n = 0; n < tries; ++n) {
    if (n > 0) key.topic = base + "." + std::to_string(n);
    if (kafka_partition_of(key, partitions) % replica_count == replica_index) return key.topic;
  }
  return std::nullopt;
}

void KafkaRecordReader::header(std::string_view name, std::string_view value) {
  if (name == kKafkaNodeHeader) {
    key_.node = value;
  } else if (name == kKafkaSessionHeader) {
    key_.session = value;
    has_session_ = true;
  } else if (name == kKafkaTopicHeader) {
    key_.topic = value;
    has_topic_ = true;
  } else if (name == kKafkaIdHeader) {
    msg_.message_id = value;
  } else if (name == kKafkaContentTypeHeader) {
    msg_.env.content_type = value;
  } else if (name.starts_with(kKafkaMetaPrefix)) {
    name.remove_prefix(kKafkaMetaPrefix.size());
    msg_.env.meta[std::string(name)] = value;
  } else {
    for (const HeaderField& f : header_fields())
      if (f.name == name) msg_.env.header.*(f.member) = value;
  }
}

Status KafkaRecordReader::finish(std::string_view value, QueueKey& key, QueuedMessage& msg) {
  if (!has_session_ || !has_topic_ || msg_.message_id.empty())
    return Status::Error(Code::kCodecError, "Kafka record without queue key or message id");
  msg_.env.body = value;
  key = std::move(key_);
  msg = std::move(msg_);
  return Status::Ok();
}

}  // namespace ptp
