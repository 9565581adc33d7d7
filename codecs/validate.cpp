#include "codecs/validate.h"

#include <algorithm>
#include <array>
#include <string>

#include "codecs/control_chars.h"
#include "codecs/field_text.h"
#include "codecs/header_codec.h"

namespace ptp {
namespace {

// Which fields each side must send (the table in docs/protocol.md, headers).
bool required(std::string PtpHeader::*m, Interface iface) {
  const bool node_to_node = iface == Interface::kInvoke || iface == Interface::kTransport;
  if (m == &PtpHeader::tech_provider_code || m == &PtpHeader::trace_id || m == &PtpHeader::token ||
      m == &PtpHeader::session_id || m == &PtpHeader::target_node_id)
    return true;
  if (m == &PtpHeader::version || m == &PtpHeader::uri || m == &PtpHeader::source_node_id)
    return node_to_node;
  return false;
}

bool is_id_field(std::string PtpHeader::*m) {
  return m == &PtpHeader::trace_id || m == &PtpHeader::session_id ||
         m == &PtpHeader::source_node_id || m == &PtpHeader::target_node_id ||
         m == &PtpHeader::source_inst_id || m == &PtpHeader::target_inst_id;
}

Status too_long(std::string_view what, const ValidationLimits& lim) {
  return Status::Error(Code::kBadRequest, std::string(what) + " is longer than " +
                                              std::to_string(lim.max_field_length) + " bytes");
}

Status control_char(std::string_view what) {
  return Status::Error(Code::kBadRequest, std::string(what) + " contains a control character");
}

// The header fields and the topic are signed and recorded in the evidence log (JSON): bytes
// that are not UTF-8 would be recorded as U+FFFD, and the record would no longer prove the
// message (docs/evidence.md). Other metadata is not recorded.
Status not_utf8(std::string_view what) {
  return Status::Error(Code::kBadRequest, std::string(what) + " is not valid UTF-8");
}

// A field's length, then its text: one pass for control characters and UTF-8 (`utf8`
// false: control characters only). `what` names the field, built only for a refusal.
template <class What>
Status check_text(What what, std::string_view v, const ValidationLimits& lim, bool utf8 = true) {
  if (v.size() > lim.max_field_length) return too_long(what(), lim);
  if (!utf8) return has_control_char(v, Tab::kControl) ? control_char(what()) : Status::Ok();
  switch (field_text_fault(v)) {
    case TextFault::kControlChar:
      return control_char(what());
    case TextFault::kNotUtf8:
      return not_utf8(what());
    case TextFault::kNone:
      break;
  }
  return Status::Ok();
}

}  // namespace

bool is_valid_id(std::string_view id) {
  static constexpr std::array<bool, 256> kIdChar = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
    for (char c : std::string_view("._:-")) t[static_cast<unsigned char>(c)] = true;
    return t;
  }();
  return !id.empty() && std::all_of(id.begin(), id.end(),
                                    [](char c) { return kIdChar[static_cast<unsigned char>(c)]; });
}

Status validate_request(const Envelope& e, Interface iface, const ValidationLimits& lim) {
  for (const auto& f : header_fields()) {
    if (required(f.member, iface) && (e.header.*(f.member)).empty())
      return Status::Error(Code::kBadRequest, "missing required header " + std::string(f.name));
  }
  // The names in error messages are built only when a check fails (this runs per request).
  for (const auto& f : header_fields()) {
    const std::string& v = e.header.*(f.member);
    if (v.empty()) continue;
    auto what = [&f] { return "header " + std::string(f.name); };
    // An id of [A-Za-z0-9._:-] (nearly all) has no control character and is UTF-8; another
    // is refused for the first of the text checks it fails, as any field.
    const bool id = is_id_field(f.member);
    if (id && v.size() <= lim.max_field_length && is_valid_id(v)) continue;
    if (Status st = check_text(what, v, lim); !st.ok()) return st;
    if (id)
      return Status::Error(Code::kBadRequest, what() + " has characters outside [A-Za-z0-9._:-]");
  }
  // A batch statement is longer than other fields by design (one batch's digests).
  ValidationLimits statement_lim = lim;
  statement_lim.max_field_length = static_cast<uint32_t>(kMaxStatementValueBytes);
  for (const auto& [name, value] : e.meta) {
    auto what = [&name] { return "metadata " + name; };
    if (Status st = check_text(what, value, name == kStatementHeaderName ? statement_lim : lim,
                               name == "message-topic");
        !st.ok())
      return st;
  }
  if (e.body.size() > lim.max_body_bytes)
    return Status::Error(Code::kTooLarge, "body of " + std::to_string(e.body.size()) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(lim.max_body_bytes) + " bytes");
  return Status::Ok();
}

}  // namespace ptp
