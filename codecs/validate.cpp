#include "codecs/validate.h"

#include <algorithm>
#include <array>
#include <string>

#include "codecs/control_chars.h"
#include "codecs/header_codec.h"
#include "codecs/utf8.h"

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

bool has_control_char(std::string_view v) { return ptp::has_control_char(v, Tab::kControl); }

// Length and character checks shared by header fields and meta values.
Status check_text(std::string_view what, std::string_view v, const ValidationLimits& lim) {
  if (v.size() > lim.max_field_length)
    return Status::Error(Code::kBadRequest, std::string(what) + " is longer than " +
                                                std::to_string(lim.max_field_length) + " bytes");
  if (has_control_char(v))
    return Status::Error(Code::kBadRequest, std::string(what) + " contains a control character");
  return Status::Ok();
}

bool text_ok(std::string_view v, const ValidationLimits& lim) {
  return v.size() <= lim.max_field_length && !has_control_char(v);
}

// The header fields and the topic are signed and recorded in the evidence log (JSON): bytes
// that are not UTF-8 would be recorded as U+FFFD, and the record would no longer prove the
// message (docs/evidence.md). Other metadata is not recorded.
Status not_utf8(std::string what) {
  return Status::Error(Code::kBadRequest, std::move(what) + " is not valid UTF-8");
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
    if (!text_ok(v, lim)) return check_text("header " + std::string(f.name), v, lim);
    if (!is_valid_utf8(v)) return not_utf8("header " + std::string(f.name));
    if (is_id_field(f.member) && !is_valid_id(v))
      return Status::Error(Code::kBadRequest, "header " + std::string(f.name) +
                                                  " has characters outside [A-Za-z0-9._:-]");
  }
  for (const auto& [name, value] : e.meta) {
    if (!text_ok(value, lim)) return check_text("metadata " + name, value, lim);
    if (name == "message-topic" && !is_valid_utf8(value)) return not_utf8("metadata " + name);
  }
  if (e.body.size() > lim.max_body_bytes)
    return Status::Error(Code::kTooLarge, "body of " + std::to_string(e.body.size()) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(lim.max_body_bytes) + " bytes");
  return Status::Ok();
}

}  // namespace ptp
