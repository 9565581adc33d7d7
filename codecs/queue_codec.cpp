#include "codecs/queue_codec.h"

#include <cctype>
#include <charconv>
#include <climits>
#include <nlohmann/json.hpp>

#include "codecs/base64.h"
#include "codecs/header_codec.h"
#include "codecs/json_depth.h"
#include "codecs/ptp.pb.h"
#include "codecs/ptp_legacy.pb.h"

namespace ptp {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::string_view kTopicKey = "message-topic";
constexpr std::string_view kTimeoutKey = "timeout";
constexpr auto kMaxTimeout = std::chrono::hours(24);

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

Status codec_error(std::string_view what) {
  return Status::Error(Code::kCodecError, "malformed " + std::string(what) + " body");
}

// The message named by interface and format, for error texts.
std::string_view proto_name(Interface iface) {
  switch (iface) {
    case Interface::kPush:
      return "PushInbound";
    case Interface::kPop:
      return "PopInbound";
    case Interface::kPeek:
      return "PeekInbound";
    default:
      return "ReleaseInbound";
  }
}

template <class Msg>
bool parse(std::string_view body, Msg& m) {
  return body.size() <= INT_MAX && m.ParseFromArray(body.data(), static_cast<int>(body.size()));
}

Status decode_proto(Interface iface, const QueueDialect& d, std::string_view body,
                    QueueRequest& out, std::optional<int64_t>& timeout) {
  auto bad = [&] { return codec_error(proto_name(iface)); };
  switch (iface) {
    case Interface::kPush: {
      auto take = [&](auto& m) {
        out.topic = m.topic();
        out.payload = std::move(*m.mutable_payload());
        for (auto& [k, v] : m.metadata()) out.metadata[k] = v;
      };
      if (d.legacy_push_layout) {
        org::ppc::ptp::legacy::PushInbound m;
        if (!parse(body, m)) return bad();
        take(m);
      } else {
        org::ppc::ptp::PushInbound m;
        if (!parse(body, m)) return bad();
        take(m);
      }
      return Status::Ok();
    }
    case Interface::kPop: {
      org::ppc::ptp::PopInbound m;
      if (!parse(body, m)) return bad();
      out.topic = m.topic();
      if (m.timeout() != 0) timeout = m.timeout();
      return Status::Ok();
    }
    case Interface::kPeek: {
      org::ppc::ptp::PeekInbound m;
      if (!parse(body, m)) return bad();
      out.topic = m.topic();
      return Status::Ok();
    }
    default: {
      org::ppc::ptp::ReleaseInbound m;
      if (!parse(body, m)) return bad();
      out.topic = m.topic();
      if (m.timeout() != 0) timeout = m.timeout();
      return Status::Ok();
    }
  }
}

Status decode_json(Interface iface, std::string_view body, QueueRequest& out,
                   std::optional<std::string>& timeout_text) {
  if (body.empty()) return Status::Ok();  // pop/peek/release may come without a body
  if (!json_depth_within(body))
    return Status::Error(Code::kCodecError, "JSON body nested deeper than " +
                                                std::to_string(kMaxJsonDepth) + " levels");
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return codec_error("JSON");
  auto string_field = [&](std::initializer_list<const char*> names, std::string& dst) -> bool {
    for (const char* n : names) {
      auto it = j.find(n);
      if (it == j.end() || it->is_null()) continue;
      if (!it->is_string()) return false;
      dst = it->get<std::string>();
      return true;
    }
    return true;
  };
  if (!string_field({"topic", "message-topic", "messageTopic"}, out.topic))
    return Status::Error(Code::kCodecError, "JSON field topic must be a string");
  if (iface == Interface::kPush) {
    std::string b64;
    if (!string_field({"payload"}, b64))
      return Status::Error(Code::kCodecError, "JSON field payload must be a base64 string");
    auto raw = base64_decode(b64);
    if (!raw) return Status::Error(Code::kCodecError, "JSON field payload is not valid base64");
    out.payload = std::move(*raw);
    if (auto it = j.find("metadata"); it != j.end() && !it->is_null()) {
      if (!it->is_object())
        return Status::Error(Code::kCodecError, "JSON field metadata must be an object");
      for (auto& [k, v] : it->items()) {
        if (!v.is_string())
          return Status::Error(Code::kCodecError, "JSON metadata value " + k + " must be a string");
        out.metadata[k] = v.get<std::string>();
      }
    }
  }
  if (auto it = j.find("timeout"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer())
      timeout_text = std::to_string(it->get<int64_t>());
    else if (it->is_string())
      timeout_text = it->get<std::string>();
    else
      return Status::Error(Code::kBadRequest, "JSON field timeout must be a number");
  }
  return Status::Ok();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

QueueBodyFormat queue_body_format(std::string_view ct, bool grpc) {
  if (grpc) return QueueBodyFormat::kProtobuf;
  if (starts_with_ci(ct, "application/x-protobuf") || starts_with_ci(ct, "application/protobuf"))
    return QueueBodyFormat::kProtobuf;
  if (starts_with_ci(ct, "application/json")) return QueueBodyFormat::kJson;
  if (auto semi = ct.find(';'); ct.substr(0, semi).ends_with("+json"))
    return QueueBodyFormat::kJson;
  return QueueBodyFormat::kRaw;
}

std::optional<milliseconds> parse_timeout(std::string_view t, TimeoutUnit unit) {
  bool ms = unit == TimeoutUnit::kMilliseconds;
  if (t.ends_with("ms")) {
    ms = true;
    t.remove_suffix(2);
  } else if (t.ends_with("s")) {
    ms = false;
    t.remove_suffix(1);
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size() || v < 0) return std::nullopt;
  if (v > std::chrono::duration_cast<milliseconds>(kMaxTimeout).count()) return std::nullopt;
  milliseconds out = ms ? milliseconds(v) : milliseconds(v * 1000);
  if (out > kMaxTimeout) return std::nullopt;
  return out;
}

std::optional<std::string> query_param(std::string_view q, std::string_view name) {
  if (auto h = q.find('#'); h != std::string_view::npos) q = q.substr(0, h);
  if (auto m = q.find('?'); m != std::string_view::npos) q = q.substr(m + 1);
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string_view v = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '+') {
        out += ' ';
      } else if (v[i] == '%' && i + 2 < v.size() + 0 && hex_value(v[i + 1]) >= 0 &&
                 hex_value(v[i + 2]) >= 0) {
        out += static_cast<char>(hex_value(v[i + 1]) * 16 + hex_value(v[i + 2]));
        i += 2;
      } else {
        out += v[i];
      }
    }
    return out;
  }
  return std::nullopt;
}

Status decode_queue_request(Interface iface, QueueBodyFormat fmt, const QueueDialect& dialect,
                            std::string_view body, std::string_view query, const Envelope& env,
                            QueueRequest& out) {
  out = QueueRequest{};
  std::optional<std::string> timeout_text;
  std::optional<int64_t> proto_timeout;
  switch (fmt) {
    case QueueBodyFormat::kProtobuf:
      if (Status s = decode_proto(iface, dialect, body, out, proto_timeout); !s.ok()) return s;
      break;
    case QueueBodyFormat::kJson:
      if (Status s = decode_json(iface, body, out, timeout_text); !s.ok()) return s;
      break;
    case QueueBodyFormat::kRaw:
      if (iface == Interface::kPush) out.payload = std::string(body);
      break;
  }
  if (out.topic.empty())
    if (auto it = env.meta.find(std::string(kTopicKey)); it != env.meta.end())
      out.topic = it->second;
  if (out.topic.empty())
    if (auto t = query_param(query, "topic")) out.topic = *t;
  if (out.topic.empty() && iface != Interface::kRelease)
    return Status::Error(Code::kBadRequest,
                         "missing topic (body field topic, header message-topic or query ?topic=)");
  if (proto_timeout) {
    if (*proto_timeout < 0) return Status::Error(Code::kBadRequest, "negative timeout");
    timeout_text = std::to_string(*proto_timeout);
  }
  if (!timeout_text) timeout_text = query_param(query, "timeout");
  if (!timeout_text)
    if (auto it = env.meta.find(std::string(kTimeoutKey)); it != env.meta.end())
      timeout_text = it->second;
  if (timeout_text) {
    out.timeout = parse_timeout(*timeout_text, dialect.timeout_unit);
    if (!out.timeout)
      return Status::Error(Code::kBadRequest,
                           "bad timeout '" + timeout_text->substr(0, 32) +
                               "' (a non-negative number, optional unit ms or s, at most 24 h)");
  }
  return Status::Ok();
}

EncodedQueueReply encode_queue_reply(QueueBodyFormat fmt, const QueueDialect& dialect,
                                     const QueueReply& reply) {
  EncodedQueueReply out;
  out.headers.emplace_back("x-ptp-queue-result", reply.message ? "message" : "empty");
  switch (fmt) {
    case QueueBodyFormat::kProtobuf: {
      Envelope e = reply.message ? *reply.message : Envelope{};
      e.status = reply.status;
      out.body = encode_transport_outbound(e, dialect.reply_layout);
      out.content_type = "application/x-protobuf";
      break;
    }
    case QueueBodyFormat::kJson: {
      Json j;
      j["code"] = code_string(reply.status.code);
      j["message"] = reply.status.ok() ? reply.status.message : reply.status.to_string();
      if (reply.message) {
        // Header fields under their x-ptp- names, extension metadata under its own.
        std::map<std::string, std::string> md(reply.message->meta.begin(),
                                              reply.message->meta.end());
        Envelope header_only;
        header_only.header = reply.message->header;
        for (const auto& [k, v] : encode_headers(header_only)) md[std::string(k)] = v;
        if (auto it = reply.message->meta.find(std::string(kTopicKey));
            it != reply.message->meta.end())
          j["topic"] = it->second;
        j["payload"] = base64_encode(reply.message->body);
        j["metadata"] = md;
      }
      out.body = j.dump(-1, ' ', false, Json::error_handler_t::replace);
      out.content_type = "application/json";
      break;
    }
    case QueueBodyFormat::kRaw:
      if (reply.message) {
        for (const auto& h : encode_headers(*reply.message)) out.headers.push_back(h);
        out.body = reply.message->body;
      }
      out.content_type = "application/octet-stream";
      break;
  }
  return out;
}

}  // namespace ptp
