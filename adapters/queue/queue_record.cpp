#include "adapters/queue/queue_record.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "codecs/header_codec.h"
#include "codecs/proto_codec.h"

namespace ptp {
namespace {

// Record: u32 LE id length (top bit: a content type follows), id, [u32 LE length, content
// type], then the Inbound (header fields, metadata, payload).
constexpr uint32_t kHasContentType = 0x80000000u;

using Json = nlohmann::json;

// The Inbound keeps only metadata with a header name of its own; the other entries (any
// name a container gave) ride in it as one JSON object under kStoredMetadataKey.
std::string encode_inbound_keeping_metadata(const Envelope& e) {
  Json custom = Json::object();
  for (const auto& [k, v] : e.meta)
    if (classify_name(k).kind == NameClass::kUnknown) custom[k] = v;
  if (custom.empty()) return encode_inbound(e);
  Envelope copy = e;
  for (auto& [k, v] : custom.items()) copy.meta.erase(k);
  copy.meta[std::string(kStoredMetadataKey)] =
      custom.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
  return encode_inbound(copy);
}

void restore_metadata(Envelope& e) {
  auto it = e.meta.find(std::string(kStoredMetadataKey));
  if (it == e.meta.end()) return;
  Json j = Json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  e.meta.erase(it);
  if (!j.is_object()) return;
  for (auto& [k, v] : j.items())
    if (v.is_string()) e.meta[k] = v.get<std::string>();
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

bool get_u32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(4);
  return true;
}

}  // namespace

std::string encode_queue_record(const QueuedMessage& m) {
  std::string out;
  const bool ct = !m.env.content_type.empty();
  put_u32(out, static_cast<uint32_t>(m.message_id.size()) | (ct ? kHasContentType : 0));
  out += m.message_id;
  if (ct) {
    put_u32(out, static_cast<uint32_t>(m.env.content_type.size()));
    out += m.env.content_type;
  }
  out += encode_inbound_keeping_metadata(m.env);
  return out;
}

Status decode_queue_record(std::string_view bytes, QueuedMessage& out) {
  uint32_t n = 0;
  if (!get_u32(bytes, n)) return Status::Error(Code::kCodecError, "truncated queue record");
  const bool has_ct = (n & kHasContentType) != 0;
  n &= ~kHasContentType;
  if (n > bytes.size()) return Status::Error(Code::kCodecError, "truncated queue record id");
  out.message_id = std::string(bytes.substr(0, n));
  bytes.remove_prefix(n);
  std::string content_type;
  if (has_ct) {
    uint32_t c = 0;
    if (!get_u32(bytes, c) || c > bytes.size())
      return Status::Error(Code::kCodecError, "truncated queue record content type");
    content_type = std::string(bytes.substr(0, c));
    bytes.remove_prefix(c);
  }
  Envelope e;
  if (Status s = decode_inbound(bytes, e); !s.ok()) return s;
  restore_metadata(e);
  e.content_type = std::move(content_type);
  out.env = std::move(e);
  return Status::Ok();
}

}  // namespace ptp
