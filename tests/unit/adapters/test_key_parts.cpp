// join_key_parts (adapters/queue/key_parts.h): round trip, and the parts with '/' that a
// joined "session/topic/id" string confused.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "adapters/queue/key_parts.h"

using namespace ptp;

TEST_CASE("key parts: round trip, any bytes") {
  const std::string nul("a\0b", 3);
  for (const std::vector<std::string>& parts :
       {std::vector<std::string>{"s", "x/y", "z"}, {"", "", ""}, {"1:2", ":", "9"}, {nul, "/"}}) {
    std::string k;
    if (parts.size() == 3)
      k = join_key_parts({parts[0], parts[1], parts[2]});
    else
      k = join_key_parts({parts[0], parts[1]});
    auto back = split_key_parts(k);
    REQUIRE(back);
    CHECK(*back == parts);
  }
}

TEST_CASE("key parts: topics and ids with '/' do not collide") {
  CHECK(join_key_parts({"s", "x/y", "z"}) != join_key_parts({"s", "x", "y/z"}));
  CHECK(join_key_parts({"s/x", "y", "z"}) != join_key_parts({"s", "x/y", "z"}));
  CHECK(join_key_parts({"ab", "c"}) != join_key_parts({"a", "bc"}));
}

TEST_CASE("key parts: malformed keys are refused") {
  for (const char* bad : {"3:ab", "x:a", ":a", "2", "1:a2"}) CHECK_FALSE(split_key_parts(bad));
}
