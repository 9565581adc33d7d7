#include "gateway/queue/queue_metadata.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <set>

#include "codecs/control_chars.h"
#include "codecs/header_codec.h"
#include "codecs/json_depth.h"
#include "gateway/http/http_field_chars.h"
#include "gateway/http/http_mapping.h"

namespace ptp {
namespace {

using Json = nlohmann::json;

// Headers a metadata name may not become, bare or after the x-ptp- prefix: the answer
// headers the gateway writes itself, and hop-by-hop or framing headers.
constexpr std::array<std::string_view, 14> kReserved{
    kPtpCodeHeader,      kPtpMessageHeader, kPtpHopHeader, "x-ptp-queue-result",
    "x-ptp-message-id",  "connection",      "keep-alive",  "proxy-connection",
    "transfer-encoding", "upgrade",         "te",          "host",
    "content-length",    "content-type"};

// The name for an error text: quoted, control characters made visible, truncated.
std::string shown(std::string_view name) { return "'" + sanitize_header_value(name, 64) + "'"; }

Status bad(std::string_view name, std::string_view why) {
  return Status::Error(Code::kBadRequest, "metadata key " + shown(name) + " " + std::string(why));
}

bool lower_token(std::string_view s) {
  return http1::is_token(s) && std::all_of(s.begin(), s.end(), [](char c) {
           return http1::kLowerTokenChar[static_cast<unsigned char>(c)] == c;
         });
}

std::string wire_name(std::string_view name) {
  return name.starts_with(kPtpHeaderPrefix) ? std::string(name)
                                            : std::string(kPtpHeaderPrefix).append(name);
}

}  // namespace

Status check_message_metadata(Metadata& md, size_t max_value_length) {
  if (md.size() > kMaxMetadataEntries)
    return Status::Error(Code::kBadRequest,
                         "more than " + std::to_string(kMaxMetadataEntries) + " metadata entries");
  Metadata out;
  std::set<std::string> wire;
  size_t bytes = 0;
  for (auto& [name, value] : md) {
    if (!lower_token(name)) return bad(name, "is not a lower-case HTTP token");
    if (name.size() > max_value_length) return bad(name, "is too long");
    if (value.size() > max_value_length)
      return bad(name, "has a value longer than " + std::to_string(max_value_length) + " bytes");
    if (has_control_char(value, Tab::kControl))
      return bad(name, "has a value with a control character");
    const std::string w = wire_name(name);
    if (std::find(kReserved.begin(), kReserved.end(), name) != kReserved.end() ||
        std::find(kReserved.begin(), kReserved.end(), w) != kReserved.end())
      return bad(name, "is reserved");
    const NameClass c = classify_name(name);
    if (c.kind == NameClass::kHeaderField || c.kind == NameClass::kGateway)
      return bad(name, "is a header field, not metadata");
    // x-ptp-topic is an alias of message-topic; x-ptp-message-code of message-code.
    const std::string canonical(c.kind == NameClass::kExtension ? c.canonical : name);
    if (!wire.insert(wire_name(canonical)).second)
      return bad(name, "is given twice (with and without the x-ptp- prefix)");
    bytes += canonical.size() + value.size();
    out[canonical] = std::move(value);
  }
  if (bytes > kMaxMetadataBytes)
    return Status::Error(Code::kBadRequest, "metadata of " + std::to_string(bytes) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(kMaxMetadataBytes) + " bytes");
  md = std::move(out);
  return Status::Ok();
}

void pack_message_metadata(Metadata& meta) {
  Json carried = Json::object();
  for (auto it = meta.begin(); it != meta.end();) {
    if (classify_name(it->first).kind == NameClass::kUnknown) {
      carried[it->first] = std::move(it->second);
      it = meta.erase(it);
    } else {
      ++it;
    }
  }
  if (carried.empty()) return;
  meta[std::string(kMessageMetadataHeader)] =
      carried.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

Status unpack_message_metadata(Metadata& meta, size_t max_value_length) {
  auto it = meta.find(std::string(kMessageMetadataHeader));
  if (it == meta.end()) return Status::Ok();
  // From a peer: bounded like any JSON a request brings (codecs/json_depth.h).
  Json j = json_depth_within(it->second) ? Json::parse(it->second, nullptr, false) : Json();
  meta.erase(it);
  if (j.is_discarded() || !j.is_object())
    return Status::Error(Code::kBadRequest,
                         std::string(kMessageMetadataHeader) + " is not a JSON object");
  Metadata carried;
  for (auto& [k, v] : j.items()) {
    if (!v.is_string())
      return Status::Error(Code::kBadRequest, std::string(kMessageMetadataHeader) + " value of " +
                                                  shown(k) + " is not a string");
    carried[k] = v.get<std::string>();
  }
  if (Status s = check_message_metadata(carried, max_value_length); !s.ok()) return s;
  for (auto& [k, v] : carried)
    if (classify_name(k).kind == NameClass::kUnknown) meta[k] = std::move(v);
  return Status::Ok();
}

bool headers_writable(const HeaderList& headers) {
  for (const auto& [name, value] : headers)
    if (!lower_token(name) || !http1::is_field_value(value)) return false;
  return true;
}

}  // namespace ptp
