#include "adapters/queue/queue_record.h"

#include <cstdint>

#include "codecs/proto_codec.h"

namespace ptp {

std::string encode_queue_record(const QueuedMessage& m) {
  std::string out;
  const auto n = static_cast<uint32_t>(m.message_id.size());
  for (int i = 0; i < 4; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  out += m.message_id;
  out += encode_inbound(m.env);
  return out;
}

Status decode_queue_record(std::string_view bytes, QueuedMessage& out) {
  if (bytes.size() < 4) return Status::Error(Code::kCodecError, "truncated queue record");
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= uint32_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  bytes.remove_prefix(4);
  if (n > bytes.size()) return Status::Error(Code::kCodecError, "truncated queue record id");
  out.message_id = std::string(bytes.substr(0, n));
  bytes.remove_prefix(n);
  Envelope e;
  if (Status s = decode_inbound(bytes, e); !s.ok()) return s;
  out.env = std::move(e);
  return Status::Ok();
}

}  // namespace ptp
