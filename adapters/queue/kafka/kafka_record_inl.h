// Template part of kafka_record.h.
#pragma once

#include "codecs/header_codec.h"

namespace ptp {

template <class Add>
void for_each_kafka_header(const QueueKey& key, const QueuedMessage& msg, Add&& add) {
  add(kKafkaNodeHeader, std::string_view(key.node));
  add(kKafkaSessionHeader, std::string_view(key.session));
  add(kKafkaTopicHeader, std::string_view(key.topic));
  add(kKafkaIdHeader, std::string_view(msg.message_id));
  // Standard header fields under their canonical names (empty ones omitted).
  for (const HeaderField& f : header_fields()) {
    const std::string& v = msg.env.header.*(f.member);
    if (!v.empty()) add(f.name, std::string_view(v));
  }
  // Metadata verbatim (names and empty values kept), so a record round-trips exactly.
  std::string name;
  for (const auto& [k, v] : msg.env.meta) {
    name.assign(kKafkaMetaPrefix);
    name += k;
    add(std::string_view(name), std::string_view(v));
  }
  if (!msg.env.content_type.empty())
    add(kKafkaContentTypeHeader, std::string_view(msg.env.content_type));
}

}  // namespace ptp
