#include "codecs/field_text.h"

#include <cstdint>
#include <cstring>

#include "codecs/control_chars.h"
#include "codecs/utf8.h"

namespace ptp {
namespace {

// Whether the eight bytes at p are all printable ASCII (0x20 to 0x7e): no high bit, no
// byte below 0x20, no DEL (exact tests of "some byte is below n" and "some byte is zero").
bool printable_word(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  uint64_t x;
  std::memcpy(&x, p, 8);
  const uint64_t below_space = (x - kOnes * 0x20) & ~x;
  const uint64_t y = x ^ (kOnes * 0x7f);
  const uint64_t del = (y - kOnes) & ~y;
  return ((x | below_space | del) & kHighs) == 0;
}

}  // namespace

TextFault field_text_fault(std::string_view v) {
  const char* p = v.data();
  const size_t n = v.size();
  size_t i = 0;
  while (i + 8 <= n && printable_word(p + i)) i += 8;
  // The last bytes: the last eight, overlapping what was looked at.
  if (i == n || (i + 8 > n && n >= 8 && printable_word(p + n - 8))) return TextFault::kNone;
  // From the first word that is not all printable ASCII on, byte by byte.
  while (i < n) {
    if (static_cast<unsigned char>(p[i]) < 0x80) {
      if (is_control_char(p[i], Tab::kControl)) return TextFault::kControlChar;
      ++i;
      continue;
    }
    const size_t len = utf8_sequence_length(v, i);
    if (len == 0)  // not UTF-8; a control character further on is still reported first
      return has_control_char(v.substr(i + 1), Tab::kControl) ? TextFault::kControlChar
                                                              : TextFault::kNotUtf8;
    i += len;  // continuation bytes (0x80 to 0xbf) are no control characters
  }
  return TextFault::kNone;
}

}  // namespace ptp
