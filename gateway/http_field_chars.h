// Which characters HTTP/1.1 allows in field names and values (RFC 9110 §5.1, §5.5), for
// the HTTP/1.1 client's request writer and response parser. Both run for every header of
// every forwarded request, so values are checked eight bytes at a time.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ptp::http1 {

// tchar, lower-cased; 0 for a character not allowed in a field name.
inline constexpr std::array<char, 256> kLowerTokenChar = [] {
  std::array<char, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<char>(c);
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = static_cast<char>(c);
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = c;
  return t;
}();

// A non-empty run of tchar.
inline bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return kLowerTokenChar[static_cast<unsigned char>(c)] != 0;
  });
}

inline bool is_field_value_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x20 && u != 0x7f) || u == '\t';
}

// VCHAR, obs-text, SP and HTAB only: no CR, LF, NUL, other control character or DEL. A
// word with a byte below 0x20 or a DEL is looked at byte by byte (tabs are allowed).
inline bool is_field_value(std::string_view v) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  auto word_ok = [](const char* p, size_t n) {
    uint64_t x = kOnes * ' ';  // a short last word is padded with spaces
    std::memcpy(&x, p, n);
    const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHighs;
    const uint64_t y = x ^ (kOnes * 0x7f);
    const uint64_t del = (y - kOnes) & ~y & kHighs;
    return (below_space | del) == 0 ||
           std::all_of(p, p + n, [](char c) { return is_field_value_char(c); });
  };
  size_t i = 0;
  for (; i + 8 <= v.size(); i += 8)
    if (!word_ok(v.data() + i, 8)) return false;
  return i == v.size() || word_ok(v.data() + i, v.size() - i);
}

}  // namespace ptp::http1
