#include "codecs/traceparent.h"

#include <algorithm>
#include <string>

#include "codecs/header_codec.h"

namespace ptp {
namespace {

constexpr size_t kLength = 55;  // "00-" + 32 + "-" + 16 + "-" + 2

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

}  // namespace

std::string_view traceparent_trace_id(std::string_view v) {
  if (v.size() < kLength) return {};
  const std::string_view version = v.substr(0, 2);
  if (!lower_hex(version) || version == "ff") return {};
  // Version 00 is exactly this long; a later one may append fields after a '-'.
  if (version == "00" ? v.size() != kLength : v.size() > kLength && v[kLength] != '-') return {};
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return {};
  const std::string_view trace = v.substr(3, 32), parent = v.substr(36, 16),
                         flags = v.substr(53, 2);
  if (!lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags)) return {};
  if (all_zero(trace) || all_zero(parent)) return {};
  return trace;
}

void adopt_traceparent(Envelope& e) {
  static const std::string kKey(kTraceparentHeader);
  auto it = e.meta.find(kKey);
  if (it == e.meta.end()) return;
  const std::string_view trace = traceparent_trace_id(it->second);
  if (trace.empty())
    e.meta.erase(it);
  else if (e.header.trace_id.empty())
    e.header.trace_id = trace;
}

}  // namespace ptp
