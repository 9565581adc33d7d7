#include "codecs/proto_codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <climits>
#include <cstdint>

#include "codecs/header_codec.h"
#include "codecs/ptp.pb.h"
#include "codecs/validate.h"

namespace ptp {
namespace {

using google::protobuf::internal::WireFormatLite;

Status malformed(std::string_view type) {
  return Status::Error(Code::kCodecError, "malformed " + std::string(type) + " protobuf");
}

template <class ProtoMap>
Status decode_metadata(const ProtoMap& m, Envelope& out) {
  return decode_headers(HeaderList(m.begin(), m.end()), out);
}

template <class ProtoMap>
void encode_metadata(const Envelope& e, ProtoMap& m) {
  std::map<std::string, std::string> md;
  header_to_metadata(e, md);
  for (auto& [k, v] : md) m[k] = std::move(v);
}

// Undoes Status::to_string(): "E0000000607 network unreachable at node B: text".
void split_status_text(Status& s) {
  const std::string prefix = code_string(s.code) + " " + std::string(describe(s.code));
  std::string_view rest = s.message;
  if (!rest.starts_with(prefix)) return;
  rest.remove_prefix(prefix.size());
  std::string_view hop;
  constexpr std::string_view kAt = " at node ";
  if (rest.starts_with(kAt)) {
    rest.remove_prefix(kAt.size());
    hop = rest.substr(0, rest.find(": "));
    rest.remove_prefix(hop.size());
    if (!is_valid_id(hop)) return;
  }
  if (!rest.empty() && !rest.starts_with(": ")) return;
  std::string text(rest.empty() ? rest : rest.substr(2));
  s.hop = std::string(hop);
  s.message = std::move(text);
}

Status status_from_wire(const std::string& code, const std::string& message) {
  if (code.empty()) return Status{Code::kOk, message, {}};
  Code c{};
  if (!parse_code(code, c))
    return Status::Error(Code::kUnknown,
                         "unknown code " + code + (message.empty() ? "" : ": " + message));
  Status s{c, message, {}};
  if (!s.ok()) split_status_text(s);
  return s;
}

std::string status_message(const Status& s) { return s.ok() ? s.message : s.to_string(); }

// Outbound and TransportOutbound (current layout) share their fields.
template <class Msg>
Status decode_response(std::string_view bytes, std::string_view type, Envelope& out) {
  Msg m;
  if (bytes.size() > INT_MAX || !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return malformed(type);
  Envelope e;
  if (Status s = decode_metadata(m.metadata(), e); !s.ok()) return s;
  e.body = std::move(*m.mutable_payload());
  e.status = status_from_wire(m.code(), m.message());
  out = std::move(e);
  return Status::Ok();
}

template <class Msg>
std::string encode_response(const Envelope& e) {
  Msg m;
  encode_metadata(e, *m.mutable_metadata());
  m.set_payload(e.body);
  m.set_code(code_string(e.status.code));
  m.set_message(status_message(e.status));
  return m.SerializeAsString();
}

// Structural UTF-8 check (no overlongs, surrogates or code points past U+10FFFF), the
// rule proto3 applies to string fields.
bool is_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

std::string encode_legacy(const Envelope& e) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream zs(&out);
    google::protobuf::io::CodedOutputStream os(&zs);
    // proto3 leaves out empty fields; so do we, to produce the same bytes.
    if (!e.body.empty()) WireFormatLite::WriteBytes(1, e.body, &os);
    WireFormatLite::WriteString(2, code_string(e.status.code), &os);
    if (std::string msg = status_message(e.status); !msg.empty())
      WireFormatLite::WriteString(3, msg, &os);
  }  // the stream flushes into `out` when destroyed
  return out;
}

Status decode_legacy(std::string_view bytes, Envelope& out) {
  constexpr std::string_view kType = "legacy TransportOutbound";
  if (bytes.size() > INT_MAX) return malformed(kType);
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::string payload, code, message;
  while (uint32_t tag = in.ReadTag()) {
    std::string* dst = nullptr;
    switch (WireFormatLite::GetTagFieldNumber(tag)) {
      case 1:
        dst = &payload;
        break;
      case 2:
        dst = &code;
        break;
      case 3:
        dst = &message;
        break;
    }
    if (dst == nullptr) {
      if (!WireFormatLite::SkipField(&in, tag)) return malformed(kType);
      continue;
    }
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
        !WireFormatLite::ReadBytes(&in, dst))
      return malformed(kType);
  }
  // ReadTag() also returns 0 on a corrupt tag; only a clean end of input is a message.
  if (!in.ConsumedEntireMessage() || !is_utf8(code) || !is_utf8(message)) return malformed(kType);
  Envelope e;
  e.body = std::move(payload);
  e.status = status_from_wire(code, message);
  out = std::move(e);
  return Status::Ok();
}

}  // namespace

Status decode_inbound(std::string_view bytes, Envelope& out) {
  org::ppc::ptp::Inbound m;
  if (bytes.size() > INT_MAX || !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return malformed("Inbound");
  Envelope e;
  if (Status s = decode_metadata(m.metadata(), e); !s.ok()) return s;
  e.body = std::move(*m.mutable_payload());
  out = std::move(e);
  return Status::Ok();
}

std::string encode_inbound(const Envelope& e) {
  org::ppc::ptp::Inbound m;
  encode_metadata(e, *m.mutable_metadata());
  m.set_payload(e.body);
  return m.SerializeAsString();
}

Status decode_outbound(std::string_view bytes, Envelope& out) {
  return decode_response<org::ppc::ptp::Outbound>(bytes, "Outbound", out);
}

std::string encode_outbound(const Envelope& e) {
  return encode_response<org::ppc::ptp::Outbound>(e);
}

std::string encode_transport_outbound(const Envelope& e, TransportLayout layout) {
  if (layout == TransportLayout::kLegacy) return encode_legacy(e);
  return encode_response<org::ppc::ptp::TransportOutbound>(e);
}

Status decode_transport_outbound(std::string_view bytes, TransportLayout layout, Envelope& out) {
  if (layout == TransportLayout::kLegacy) return decode_legacy(bytes, out);
  return decode_response<org::ppc::ptp::TransportOutbound>(bytes, "TransportOutbound", out);
}

}  // namespace ptp
