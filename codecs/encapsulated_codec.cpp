#include "codecs/encapsulated_codec.h"

#include <climits>
#include <nlohmann/json.hpp>

#include "codecs/base64.h"
#include "codecs/json_depth.h"
#include "codecs/ptp.pb.h"
#include "codecs/queue_codec.h"

namespace ptp {
namespace {

using Json = nlohmann::json;

std::string_view kind_name(EncapsulatedKind k) {
  return k == EncapsulatedKind::kInbound ? "Inbound" : "Outbound";
}

Status malformed(EncapsulatedFormat f, EncapsulatedKind k, std::string_view why) {
  return Status::Error(Code::kCodecError, "malformed encapsulated " + std::string(kind_name(k)) +
                                              " (" + std::string(format_name(f)) +
                                              "): " + std::string(why));
}

template <class Msg>
bool parse(std::string_view body, Msg& m) {
  return body.size() <= INT_MAX && m.ParseFromArray(body.data(), static_cast<int>(body.size()));
}

Status decode_protobuf(EncapsulatedKind kind, std::string_view body, EncapsulatedMessage& out) {
  EncapsulatedMessage e;
  if (kind == EncapsulatedKind::kInbound) {
    org::ppc::ptp::Inbound m;
    if (!parse(body, m)) return malformed(EncapsulatedFormat::kProtobuf, kind, "not an Inbound");
    e.metadata.insert(m.metadata().begin(), m.metadata().end());
    e.payload = std::move(*m.mutable_payload());
  } else {
    org::ppc::ptp::Outbound m;
    if (!parse(body, m)) return malformed(EncapsulatedFormat::kProtobuf, kind, "not an Outbound");
    e.metadata.insert(m.metadata().begin(), m.metadata().end());
    e.payload = std::move(*m.mutable_payload());
    e.code = std::move(*m.mutable_code());
    e.message = std::move(*m.mutable_message());
  }
  out = std::move(e);
  return Status::Ok();
}

std::string encode_protobuf(EncapsulatedKind kind, const EncapsulatedMessage& e) {
  if (kind == EncapsulatedKind::kInbound) {
    org::ppc::ptp::Inbound m;
    m.mutable_metadata()->insert(e.metadata.begin(), e.metadata.end());
    m.set_payload(e.payload);
    return m.SerializeAsString();
  }
  org::ppc::ptp::Outbound m;
  m.mutable_metadata()->insert(e.metadata.begin(), e.metadata.end());
  m.set_payload(e.payload);
  m.set_code(e.code);
  m.set_message(e.message);
  return m.SerializeAsString();
}

Status decode_json(EncapsulatedKind kind, std::string_view body, EncapsulatedMessage& out) {
  constexpr auto kFmt = EncapsulatedFormat::kJson;
  // Metadata values and the other fields are flat: a shallow document is all that is valid.
  constexpr size_t kMaxDepth = 3;
  if (!json_depth_within(body, kMaxDepth))
    return malformed(kFmt, kind, "nested deeper than a metadata object");
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed(kFmt, kind, "not a JSON object");
  EncapsulatedMessage e;
  auto text = [&](const char* name, std::string& dst) -> Status {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return Status::Ok();
    if (!it->is_string()) return malformed(kFmt, kind, std::string(name) + " must be a string");
    dst = it->get<std::string>();
    return Status::Ok();
  };
  std::string b64;
  if (Status s = text("payload", b64); !s.ok()) return s;
  auto raw = base64_decode(b64);
  if (!raw) return malformed(kFmt, kind, "payload is not valid base64");
  e.payload = std::move(*raw);
  if (kind == EncapsulatedKind::kOutbound) {
    if (Status s = text("code", e.code); !s.ok()) return s;
    if (Status s = text("message", e.message); !s.ok()) return s;
  }
  if (auto it = j.find("metadata"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return malformed(kFmt, kind, "metadata must be an object");
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) return malformed(kFmt, kind, "metadata value " + k + " must be a string");
      e.metadata[k] = v.get<std::string>();
    }
  }
  out = std::move(e);
  return Status::Ok();
}

std::string encode_json(EncapsulatedKind kind, const EncapsulatedMessage& e) {
  Json j = Json::object();
  j["metadata"] = Json::object();
  for (const auto& [k, v] : e.metadata) j["metadata"][k] = v;
  j["payload"] = base64_encode(e.payload);
  if (kind == EncapsulatedKind::kOutbound) {
    j["code"] = e.code;
    j["message"] = e.message;
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::optional<EncapsulatedFormat> encapsulated_format(std::string_view content_type) {
  switch (queue_body_format(content_type, /*grpc=*/false)) {
    case QueueBodyFormat::kJson:
      return EncapsulatedFormat::kJson;
    case QueueBodyFormat::kProtobuf:
      return EncapsulatedFormat::kProtobuf;
    case QueueBodyFormat::kRaw:
      break;
  }
  return std::nullopt;
}

std::string_view content_type_of(EncapsulatedFormat f) {
  return f == EncapsulatedFormat::kJson ? "application/json" : "application/x-protobuf";
}

std::string_view format_name(EncapsulatedFormat f) {
  return f == EncapsulatedFormat::kJson ? "json" : "protobuf";
}

Status decode_encapsulated(EncapsulatedFormat f, EncapsulatedKind kind, std::string_view body,
                           EncapsulatedMessage& out) {
  return f == EncapsulatedFormat::kJson ? decode_json(kind, body, out)
                                        : decode_protobuf(kind, body, out);
}

std::string encode_encapsulated(EncapsulatedFormat f, EncapsulatedKind kind,
                                const EncapsulatedMessage& m) {
  return f == EncapsulatedFormat::kJson ? encode_json(kind, m) : encode_protobuf(kind, m);
}

}  // namespace ptp
