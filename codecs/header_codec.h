// PTP header fields <-> Envelope (docs/protocol.md, headers). One table of names and aliases serves
// HTTP headers, gRPC metadata and the protobuf metadata map alike.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "codecs/envelope.h"
#include "codecs/status.h"

namespace ptp {

// A typed field of the standard header and its canonical wire name.
struct HeaderField {
  std::string_view name;  // e.g. "x-ptp-session-id"
  std::string PtpHeader::*member;
};

// The ten standard header fields, in canonical (encode) order.
std::span<const HeaderField> header_fields();

// Fills out.header and out.meta from wire name/value pairs. Names are case-insensitive;
// the known aliases (x-ptp-from-node-id, x-ptp-tecn-provider-code, x-ptp-task-session-id,
// x-ptp-topic, x-ptp-timeout, x-ptp-<extension>) are accepted. Unknown headers and empty
// values are ignored; fields not present in `in` are left unchanged in `out`. The same
// field given twice with different values is a kBadRequest naming the field.
Status decode_headers(const HeaderList& in, Envelope& out);

// decode_headers() one header at a time, for decoders that see the headers as they arrive
// (no intermediate list): one state per message; the first error is kept in `error`.
struct HeaderDecodeState {
  static constexpr size_t kMaxFields = 64;  // >= the number of canonical names
  uint64_t seen = 0;                        // bit i: the canonical name numbered i
  Status error;
};
void decode_header(std::string_view name, std::string_view value, Envelope& out,
                   HeaderDecodeState& state);

// The prefix of PTP header names on the wire.
inline constexpr std::string_view kPtpHeaderPrefix = "x-ptp-";

// Between nodes, the metadata of a queued message that has no header of its own (names
// other than the extension names), as one JSON object (gateway/queue/queue_metadata.h).
inline constexpr std::string_view kMessageMetadataHeader = "x-ptp-message-metadata";
// The same inside a stored queue record (adapters/queue/queue_record.cpp); never on a wire.
inline constexpr std::string_view kStoredMetadataKey = "x-ptp-stored-metadata";
// W3C Trace Context (codecs/traceparent.h): kept in meta under this name and sent on under
// it (no x-ptp- prefix).
inline constexpr std::string_view kTraceparentHeader = "traceparent";

// The wire name of a meta entry is prefix + name: "x-ptp-" for names given bare, nothing
// for names starting with x-ptp- and for traceparent.
inline std::string_view meta_wire_prefix(std::string_view name) {
  return name.starts_with(kPtpHeaderPrefix) || name == kTraceparentHeader ? std::string_view()
                                                                          : kPtpHeaderPrefix;
}

// A permit (docs/authorization.md "Permits") the grantee's gateway presents to the holder's;
// relayed unchanged by routers.
inline constexpr std::string_view kPermitHeaderName = "x-ptp-permit";

// The signed batch statement a signed message refers to (trust/message_evidence.h,
// docs/evidence.md "Batch statements"): the digests of a whole batch, so longer than other
// fields. Every message of a batch carries the same value: on an HTTP/2 link HPACK sends it
// once and then as an index. Relayed unchanged by routers.
inline constexpr std::string_view kStatementHeaderName = "x-ptp-statement";
// Its longest value: 256 digests (the most a statement holds) as base64url (10 923 bytes),
// ids and the signature.
inline constexpr size_t kMaxStatementValueBytes = 12 << 10;

// What a lower-case wire name is to the codec: a standard header field or an alias of one,
// an extension metadata name (bare or x-ptp- prefixed), one of the gateway's own fields
// (routing, kMessageMetadataHeader, kStoredMetadataKey, kPermitHeaderName,
// kTraceparentHeader), or unknown.
// `canonical`: the name decode_header() stores it under (the name itself when unknown).
struct NameClass {
  enum Kind { kUnknown, kHeaderField, kExtension, kGateway } kind;
  std::string_view canonical;
};
NameClass classify_name(std::string_view lower_case_name);

// Canonical names, non-empty fields only: the standard header in header_fields() order,
// then each meta entry as x-ptp-<name> (names already starting with x-ptp-, and
// traceparent, kept as is).
HeaderList encode_headers(const Envelope& in);

// The same headers as encode_headers, without copies: calls f(prefix, name, value,
// name_is_static) for each; the wire name is prefix + name (prefix is "x-ptp-" for meta
// names given bare, else empty). The views point into `in` or static tables; name_is_static
// says `name` is in a static table (it outlives `in`).
template <class F>
void visit_encoded_headers(const Envelope& in, F&& f) {
  for (const auto& field : header_fields()) {
    const std::string& v = in.header.*(field.member);
    if (!v.empty()) f(std::string_view(), field.name, std::string_view(v), true);
  }
  for (const auto& [name, value] : in.meta) {
    if (value.empty()) continue;
    f(meta_wire_prefix(name), std::string_view(name), std::string_view(value), false);
  }
}

// The protobuf metadata map uses the same names as the HTTP headers.
void header_to_metadata(const Envelope& in, std::map<std::string, std::string>& out);
Status metadata_to_header(const std::map<std::string, std::string>& in, Envelope& out);

}  // namespace ptp
