// codecs/hex.h and common/random_hex.h.
#include <doctest/doctest.h>

#include <string>

#include "codecs/hex.h"
#include "common/random_hex.h"

using namespace ptp;

TEST_CASE("hex_encode: lower case, two digits per byte, every byte value") {
  CHECK(hex_encode("") == "");
  CHECK(hex_encode(std::string("\x00\x0f\xf0\xff", 4)) == "000ff0ff");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  const std::string hex = hex_encode(all);
  REQUIRE(hex.size() == 512);
  CHECK(hex.substr(0, 6) == "000102");
  CHECK(hex.substr(2 * 0xab, 2) == "ab");
  CHECK(hex.substr(510) == "ff");
}

TEST_CASE("random_hex: the asked length, hex digits, not repeating") {
  const std::string a = random_hex(16), b = random_hex(16);
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
  CHECK(random_hex(0).empty());
}
