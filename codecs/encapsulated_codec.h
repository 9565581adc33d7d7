// Encapsulation mode (docs/encapsulation.md): a request whose x-ptp-version is absent or
// not "1" carries the whole message serialized again, as an Inbound, in the body; the
// answer is an Outbound in the same serialization. Over HTTP the serialization follows the
// Content-Type, as for the container interfaces: JSON (payload in base64) or protobuf.
// This file is the wire format only; gateway/forward/encapsulated_body.h maps it onto
// requests and answers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "codecs/status.h"

namespace ptp {

enum class EncapsulatedFormat { kProtobuf, kJson };

// application/json (or +json) → kJson; application/x-protobuf, application/protobuf →
// kProtobuf; anything else → nullopt (an encapsulated body must say which it is).
std::optional<EncapsulatedFormat> encapsulated_format(std::string_view content_type);
std::string_view content_type_of(EncapsulatedFormat f);  // application/json, application/x-protobuf
std::string_view format_name(EncapsulatedFormat f);      // "json", "protobuf"

// The fields of org.ppc.ptp.Inbound (code and message empty) and Outbound.
//   JSON: {"metadata": {"name": "value", ...}, "payload": "<base64>", "code": "...",
//          "message": "..."}; absent or null fields are empty.
struct EncapsulatedMessage {
  std::map<std::string, std::string> metadata;
  std::string payload;
  std::string code;     // Outbound only
  std::string message;  // Outbound only
};

enum class EncapsulatedKind { kInbound, kOutbound };

// Malformed bytes (bad JSON, a field of the wrong type, bad base64, bad protobuf) are
// kCodecError naming the message type and the format.
Status decode_encapsulated(EncapsulatedFormat f, EncapsulatedKind kind, std::string_view body,
                           EncapsulatedMessage& out);
std::string encode_encapsulated(EncapsulatedFormat f, EncapsulatedKind kind,
                                const EncapsulatedMessage& m);

}  // namespace ptp
