#include <doctest/doctest.h>

#include "codecs/base64.h"

using namespace ptp;

TEST_CASE("base64: RFC 4648 vectors, padding optional on input") {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : vectors) {
    CHECK(base64_encode(plain) == coded);
    CHECK(base64_decode(coded).value() == plain);
  }
  CHECK(base64_decode("Zg").value() == "f");
  CHECK_FALSE(base64_decode("Zh==").has_value());  // leftover bits
  CHECK_FALSE(base64_decode("Z===").has_value());
  CHECK_FALSE(base64_decode("Zm9v-_").has_value());
}

TEST_CASE("base64url: no padding, URL alphabet, strict decoding") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : vectors) {
    CHECK(base64url_encode(plain) == coded);
    CHECK(base64url_decode(coded).value() == plain);
  }
  const std::string bytes("\xfb\xff\xbf\x00\x3e", 5);
  CHECK(base64_encode(bytes) == "+/+/AD4=");
  CHECK(base64url_encode(bytes) == "-_-_AD4");
  CHECK(base64url_decode("-_-_AD4").value() == bytes);
  CHECK_FALSE(base64url_decode("+/+/AD4").has_value());  // standard alphabet
  CHECK_FALSE(base64url_decode("Zg==").has_value());     // padding
  CHECK_FALSE(base64url_decode("Zh").has_value());       // leftover bits
  CHECK_FALSE(base64url_decode("Zm9vY").has_value());    // impossible length
  CHECK_FALSE(base64url_decode("Zm 9v").has_value());
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  CHECK(base64url_decode(base64url_encode(all)).value() == all);
}

TEST_CASE("base64: every length round-trips; a bad character anywhere, or leftover bits, fail") {
  // Groups of four characters are decoded at once: each position of a group and of the
  // tail (2 or 3 characters) must still be checked.
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    const std::string std_text = base64_encode(bytes), url_text = base64url_encode(bytes);
    CAPTURE(n);
    CHECK(std_text.size() == (bytes.size() + 2) / 3 * 4);
    CHECK(url_text.size() == (bytes.size() * 4 + 2) / 3);
    CHECK(base64_decode(std_text).value() == bytes);
    CHECK(base64url_decode(url_text).value() == bytes);
    for (size_t at = 0; at < url_text.size(); ++at) {
      std::string bad = url_text;
      bad[at] = '*';
      CHECK_FALSE(base64url_decode(bad).has_value());
      bad[at] = '\x80';
      CHECK_FALSE(base64url_decode(bad).has_value());
    }
    if (url_text.size() % 4 != 0) {  // a tail: its last character carries leftover bits
      std::string odd = url_text;
      odd.back() = odd.back() == 'B' ? 'C' : 'B';
      CHECK_FALSE(base64url_decode(odd).has_value());
    }
    bytes += static_cast<char>(n * 37 + 11);
  }
}
