// Which characters HTTP/1.1 allows in field names and values (RFC 9110 §5.1, §5.5), for
// the HTTP/1.1 client's request writer and response parser. Both run for every header of
// every forwarded request, so values are checked eight bytes at a time.
#pragma once

#include <algorithm>
#include <array>
#include <string_view>

#include "codecs/control_chars.h"

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

// VCHAR, obs-text, SP and HTAB only: no CR, LF, NUL, other control character or DEL.
inline bool is_field_value(std::string_view v) { return !has_control_char(v, Tab::kAllowed); }

}  // namespace ptp::http1
