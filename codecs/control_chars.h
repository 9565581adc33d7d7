// Control characters (below 0x20, and DEL) in text, eight bytes at a time: header values
// are checked for them on every request, at ingress (validate.cpp; the PTP header fields
// together with UTF-8 in one pass, codecs/field_text.h) and again where the
// HTTP/1.1 client writes or reads a head (gateway/http/http_field_chars.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ptp {

enum class Tab { kAllowed, kControl };

inline bool is_control_char(char ch, Tab tab) {
  const auto c = static_cast<unsigned char>(ch);
  return (c < 0x20 && !(c == '\t' && tab == Tab::kAllowed)) || c == 0x7f;
}

// A word with a byte below 0x20 or a DEL is looked at byte by byte (it may be a tab).
inline bool has_control_char(std::string_view v, Tab tab) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  auto bytes_have = [tab](const char* p, size_t n) {
    return std::any_of(p, p + n, [tab](char c) { return is_control_char(c, tab); });
  };
  auto word_has = [&](const char* p) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHighs;
    const uint64_t y = x ^ (kOnes * 0x7f);
    const uint64_t del = (y - kOnes) & ~y & kHighs;
    return (below_space | del) != 0 && bytes_have(p, 8);
  };
  if (v.size() < 8) return bytes_have(v.data(), v.size());
  size_t i = 0;
  for (; i + 8 <= v.size(); i += 8)
    if (word_has(v.data() + i)) return true;
  // The last bytes: the last eight, overlapping what was looked at.
  return i < v.size() && word_has(v.data() + v.size() - 8);
}

}  // namespace ptp
