#include <doctest/doctest.h>

#include <set>

#include "common/random_hex.h"

using namespace ptp;

TEST_CASE("random ids: trace ids are 32 hex digits and never repeat across pool refills") {
  RandomIds ids;
  std::set<std::string> seen;
  // 64 trace ids use up one 1 KiB pool: 1000 span 16 refills.
  for (int i = 0; i < 1000; ++i) {
    const std::string id = ids.trace_id();
    REQUIRE(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(seen.insert(id).second);
  }
  // Two sources draw their own bytes.
  RandomIds other;
  CHECK(seen.count(other.trace_id()) == 0);
}

TEST_CASE("random ids: other sizes, and a size larger than the pool serves") {
  RandomIds ids;
  CHECK(ids.hex(1).size() == 2);
  CHECK(ids.hex(64).size() == 128);
  CHECK(ids.hex(65).size() == 130);  // beyond what one draw from the pool gives
  CHECK(ids.hex(0).empty());
  // Whatever the pool had left, an id never straddles a refill with old bytes.
  for (int i = 0; i < 100; ++i) CHECK(ids.hex(60).size() == 120);
}
