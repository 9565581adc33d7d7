// Bodies of the container-facing queue interfaces push/pop/peek/release (docs/protocol.md,
// interfaces and dialects): JSON (base64 payload), protobuf (PushInbound/PopInbound/... →
// TransportOutbound, also over gRPC) or raw bytes with the topic and metadata in headers. Dialect
// quirks (field layouts, timeout units) come from QueueDialect, never from guessing at the bytes.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/interface.h"
#include "codecs/proto_codec.h"
#include "codecs/status.h"

namespace ptp {

enum class QueueBodyFormat { kJson, kProtobuf, kRaw };

enum class TimeoutUnit { kSeconds, kMilliseconds };

// How one platform (by vendor code) speaks the queue interfaces; docs/queues.md.
struct QueueDialect {
  bool legacy_push_layout = false;  // PushInbound { payload = 1; topic = 2; }
  TransportLayout reply_layout = TransportLayout::kCurrent;
  TimeoutUnit timeout_unit = TimeoutUnit::kSeconds;  // unit of a bare timeout number
  bool peek_removes = false;                         // peek behaves like pop
};

// gRPC and application/x-protobuf → protobuf; application/json (or +json) → JSON;
// anything else (octet-stream, none) → raw.
QueueBodyFormat queue_body_format(std::string_view content_type, bool grpc);

struct QueueRequest {
  std::string topic;
  std::string payload;                               // push
  Metadata metadata;                                 // push: metadata given in the body
  std::optional<std::chrono::milliseconds> timeout;  // pop (wait) / push (wait for space)
};

// Decodes a queue request body. The topic comes from the body, else env.meta
// "message-topic" (header message-topic / x-ptp-topic), else the query parameter
// "topic"; the timeout from the body, else the query "timeout", else env.meta "timeout".
// A timeout may carry an explicit unit suffix ("500ms", "3s"); a bare number is in the
// dialect's unit. kCodecError for a malformed body; kBadRequest for a bad timeout or a
// missing topic (every queue interface names a topic except a whole-session release).
Status decode_queue_request(Interface iface, QueueBodyFormat fmt, const QueueDialect& dialect,
                            std::string_view body, std::string_view query, const Envelope& env,
                            QueueRequest& out);

// "500ms" → 500 ms, "3s" → 3000 ms, "7" → 7 s or 7 ms by unit. nullopt when malformed,
// negative, or over 24 h.
std::optional<std::chrono::milliseconds> parse_timeout(std::string_view text, TimeoutUnit unit);

// The value of `name` in a URL query string ("a=1&topic=x"), percent-decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// What a queue interface answers: its status and, for pop/peek, the message (if any):
// its PTP header, extension metadata (message-topic, message-id, message-offset, …) and
// payload (body).
struct QueueReply {
  Status status;
  std::optional<Envelope> message;
};

struct EncodedQueueReply {
  std::string body;
  std::string content_type;
  HeaderList headers;  // raw format: the message metadata; always x-ptp-queue-result
};

// JSON: {"code","message"[,"topic","payload"(base64),"metadata"]}; protobuf:
// TransportOutbound in the dialect's layout; raw: the payload as body, metadata as headers.
// x-ptp-queue-result is "message" or "empty" so raw clients can tell an empty payload
// from no message.
EncodedQueueReply encode_queue_reply(QueueBodyFormat fmt, const QueueDialect& dialect,
                                     const QueueReply& reply);

}  // namespace ptp
