#include <doctest/doctest.h>

#include <string>

#include "codecs/utf8.h"

using namespace ptp;

TEST_CASE("is_valid_utf8: well-formed sequences pass, anything else fails (RFC 3629)") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("ascii \"\\ \x01"));
  CHECK(is_valid_utf8("\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK_FALSE(is_valid_utf8("\x80"));              // a continuation byte alone
  CHECK_FALSE(is_valid_utf8("\xc3"));              // cut short
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST_CASE("is_valid_utf8: a bad byte is found at any offset after ASCII runs of any length") {
  for (size_t run = 0; run < 40; ++run) {
    const std::string ascii(run, 'a');
    CHECK(is_valid_utf8(ascii));
    CHECK_FALSE(is_valid_utf8(ascii + "\xff"));
    CHECK_FALSE(is_valid_utf8(ascii + "\xff" + ascii));
    CHECK(is_valid_utf8(ascii + "\xc3\xa9" + ascii));
  }
}
