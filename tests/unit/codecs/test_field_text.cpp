// field_text_fault: control characters and UTF-8 in one pass (codecs/field_text.h), at every
// position around the eight-byte words it skips.
#include <doctest/doctest.h>

#include <string>

#include "codecs/field_text.h"

using namespace ptp;

namespace {

// `bad` put at every position of ASCII text of every length up to 20.
void check_everywhere(std::string_view bad, TextFault want) {
  for (size_t len = 0; len <= 20; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      std::string s(len, 'a');
      s.insert(at, bad);
      CAPTURE(len);
      CAPTURE(at);
      CHECK(field_text_fault(s) == want);
    }
  }
}

}  // namespace

TEST_CASE("field text: printable ASCII and well-formed UTF-8 pass") {
  CHECK(field_text_fault("") == TextFault::kNone);
  for (size_t len = 1; len <= 40; ++len) {
    CHECK(field_text_fault(std::string(len, ' ')) == TextFault::kNone);
    CHECK(field_text_fault(std::string(len, '~')) == TextFault::kNone);
  }
  for (std::string_view ok :
       {"\xc2\x80", "\xc3\xa9", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
        "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"})
    check_everywhere(ok, TextFault::kNone);
}

TEST_CASE("field text: control characters, a tab and DEL") {
  for (char c = 0; c < 0x20; ++c) check_everywhere(std::string(1, c), TextFault::kControlChar);
  check_everywhere("\x7f", TextFault::kControlChar);
}

TEST_CASE("field text: bytes that are not UTF-8") {
  for (std::string_view bad : {"\x80",
                               "\xbf",
                               "\xfe",
                               "\xff",
                               "\xf5\x80\x80\x80",  // no lead byte; above the range
                               "\xc0\xaf",
                               "\xc1\xbf",
                               "\xe0\x80\xaf",
                               "\xe0\x9f\xbf",
                               "\xf0\x80\x80\xaf",
                               "\xf0\x8f\xbf\xbf",  // overlong forms
                               "\xed\xa0\x80",
                               "\xed\xbf\xbf",
                               "\xed\xb0\x80",      // surrogates
                               "\xf4\x90\x80\x80",  // above U+10FFFF
                               "\xc3",
                               "\xe2\x82",
                               "\xf0\x9f\x98",  // cut short
                               "\xc3\x41",
                               "\xe2\x41\x82",
                               "\xc3\xc3\xa9"})  // a continuation missing
    check_everywhere(bad, TextFault::kNotUtf8);
}

TEST_CASE("field text: a control character is reported before bad UTF-8, wherever each is") {
  for (std::string_view mix : {"\xff\n", "\n\xff", "\xc3\x0a", "\xe2\x82\x7f", "\xed\xa0\x80\t",
                               "\x01\xc0\xaf", "\xf0\x9f\x98\x80\xff\x1f"})
    check_everywhere(mix, TextFault::kControlChar);
  // Far apart: bad UTF-8 in the first word, a control character in the last.
  CHECK(field_text_fault("\xff" + std::string(30, 'x') + "\r") == TextFault::kControlChar);
  CHECK(field_text_fault("\r" + std::string(30, 'x') + "\xff") == TextFault::kControlChar);
  CHECK(field_text_fault("\xc3\xa9" + std::string(30, 'x') + "\xff") == TextFault::kNotUtf8);
}
