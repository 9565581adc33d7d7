#include "codecs/header_codec.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <vector>

namespace ptp {
namespace {

constexpr std::array kFields{
    HeaderField{"x-ptp-version", &PtpHeader::version},
    HeaderField{"x-ptp-tech-provider-code", &PtpHeader::tech_provider_code},
    HeaderField{"x-ptp-trace-id", &PtpHeader::trace_id},
    HeaderField{"x-ptp-token", &PtpHeader::token},
    HeaderField{"x-ptp-uri", &PtpHeader::uri},
    HeaderField{"x-ptp-session-id", &PtpHeader::session_id},
    HeaderField{"x-ptp-source-node-id", &PtpHeader::source_node_id},
    HeaderField{"x-ptp-target-node-id", &PtpHeader::target_node_id},
    HeaderField{"x-ptp-source-inst-id", &PtpHeader::source_inst_id},
    HeaderField{"x-ptp-target-inst-id", &PtpHeader::target_inst_id},
};

struct Alias {
  std::string_view name;
  std::string_view canonical;
};

// Spellings shipped by other implementations (docs/protocol.md, dialects).
constexpr std::array kAliases{
    Alias{"x-ptp-from-node-id", "x-ptp-source-node-id"},
    Alias{"x-ptp-tecn-provider-code", "x-ptp-tech-provider-code"},
    Alias{"x-ptp-task-session-id", "x-ptp-session-id"},
    Alias{"x-ptp-topic", "message-topic"},
};

// Extension metadata, accepted bare or with the x-ptp- prefix.
constexpr std::array<std::string_view, 14> kExtensions{
    "message-topic",
    "message-code",
    "message-offset",
    "source-component-name",
    "target-component-name",
    "target-method",
    "instance-id",
    "timestamp",
    "message-flag",
    "message-topic-back",
    "retry-count",
    "timeout",
    "job-id",
    "message-id",
};

// The gateway's own fields, kept under their wire names: routing, the carrier of a queued
// message's other metadata between nodes, a presented permit, the W3C trace context (passed
// on as is) and the message evidence a gateway signs (trust/message_evidence.h; routers
// pass them on unchanged).
constexpr std::array<std::string_view, 10> kRouting{
    "x-ptp-route-path",  "x-ptp-hop-count",   kMessageMetadataHeader, kStoredMetadataKey,
    kPermitHeaderName,   kTraceparentHeader,  "x-ptp-signature",      "x-ptp-receipt",
    "x-ptp-countersign", kStatementHeaderName};

// Longer names are no PTP field; lower-casing into a buffer of this size avoids an
// allocation per header on the request path.
constexpr size_t kMaxNameLength = 64;

std::string_view lower(std::string_view s, std::array<char, kMaxNameLength>& buf) {
  // HTTP/2 names arrive in lower case: no copy then.
  if (std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) return s;
  std::transform(s.begin(), s.end(), buf.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return {buf.data(), s.size()};
}

const HeaderField* find_field(std::string_view canonical) {
  for (const auto& f : kFields)
    if (canonical == f.name) return &f;
  return nullptr;
}

// A wire name the codec knows: its canonical name, that name's number (aliases share
// it) and, for a header field, the field.
struct KnownName {
  std::string_view name;
  std::string_view canonical;
  const HeaderField* field;
  unsigned id;
};

// Every accepted spelling, bucketed by length: a header of another length (most of
// what a request carries) is rejected without a comparison. Built once, read-only.
class NameIndex {
 public:
  NameIndex() {
    for (const auto& f : kFields) canonicals_.push_back(f.name);
    for (auto r : kRouting) canonicals_.push_back(r);
    for (auto e : kExtensions) canonicals_.push_back(e);
    for (const auto& a : kAliases) add(a.name, a.canonical);
    for (const auto& f : kFields) add(f.name, f.name);
    for (auto r : kRouting) add(r, r);
    for (size_t i = 0; i < kExtensions.size(); ++i) {
      add(kExtensions[i], kExtensions[i]);
      prefixed_[i] = std::string(kPtpHeaderPrefix).append(kExtensions[i]);
      add(prefixed_[i], kExtensions[i]);
    }
  }
  const KnownName* find(std::string_view n) const {
    if (n.size() >= buckets_.size()) return nullptr;
    for (const auto& k : buckets_[n.size()])
      if (k.name == n) return &k;
    return nullptr;
  }

 private:
  void add(std::string_view name, std::string_view canonical) {
    const auto id = static_cast<unsigned>(
        std::find(canonicals_.begin(), canonicals_.end(), canonical) - canonicals_.begin());
    if (id >= canonicals_.size())
      throw std::logic_error(std::string("no canonical header name ").append(name));
    buckets_.at(name.size()).push_back({name, canonical, find_field(canonical), id});
  }
  std::vector<std::string_view> canonicals_;              // numbered: KnownName::id
  std::array<std::string, kExtensions.size()> prefixed_;  // "x-ptp-" + each extension name
  std::array<std::vector<KnownName>, kMaxNameLength + 1> buckets_;
};

// The known name for a lower-case wire name, null when it is no PTP field. Inlined into
// decode_header, which runs for every header of every request.
[[gnu::always_inline]] inline const KnownName* known_name(std::string_view n) {
  static const NameIndex index;
  return index.find(n);
}

}  // namespace

std::span<const HeaderField> header_fields() { return kFields; }

NameClass classify_name(std::string_view name) {
  const KnownName* known = known_name(name);
  if (!known) return {NameClass::kUnknown, name};
  if (known->field) return {NameClass::kHeaderField, known->canonical};
  if (std::find(kRouting.begin(), kRouting.end(), known->canonical) != kRouting.end())
    return {NameClass::kGateway, known->canonical};
  return {NameClass::kExtension, known->canonical};
}

void decode_header(std::string_view raw_name, std::string_view value, Envelope& out,
                   HeaderDecodeState& state) {
  static_assert(HeaderDecodeState::kMaxFields >=
                kFields.size() + kRouting.size() + kExtensions.size());
  if (!state.error.ok() || value.empty() || raw_name.size() > kMaxNameLength) return;
  std::array<char, kMaxNameLength> buf;
  const KnownName* known = known_name(lower(raw_name, buf));
  if (!known) return;
  const std::string_view canon = known->canonical;
  const HeaderField* f = known->field;
  const uint64_t bit = uint64_t{1} << known->id;
  if (state.seen & bit) {
    // Seen before: the value stored then must be the same.
    const std::string* prior = nullptr;
    if (f) {
      prior = &(out.header.*(f->member));
    } else if (auto it = out.meta.find(std::string(canon)); it != out.meta.end()) {
      prior = &it->second;
    }
    if (prior && *prior == value) return;
    state.error =
        Status::Error(Code::kBadRequest, "conflicting values for header " + std::string(canon));
    return;
  }
  state.seen |= bit;
  if (f)
    out.header.*(f->member) = value;
  else
    out.meta[std::string(canon)] = value;
}

Status decode_headers(const HeaderList& in, Envelope& out) {
  HeaderDecodeState state;
  for (const auto& [name, value] : in) decode_header(name, value, out, state);
  return state.error;
}

HeaderList encode_headers(const Envelope& in) {
  HeaderList out;
  out.reserve(kFields.size() + in.meta.size());
  visit_encoded_headers(
      in, [&](std::string_view prefix, std::string_view name, std::string_view value, bool) {
        if (prefix.empty())
          out.emplace_back(name, value);
        else
          out.emplace_back(std::string(prefix).append(name), value);
      });
  return out;
}

void header_to_metadata(const Envelope& in, std::map<std::string, std::string>& out) {
  for (const auto& [name, value] : encode_headers(in)) out[std::string(name)] = value;
}

Status metadata_to_header(const std::map<std::string, std::string>& in, Envelope& out) {
  return decode_headers(HeaderList(in.begin(), in.end()), out);
}

}  // namespace ptp
