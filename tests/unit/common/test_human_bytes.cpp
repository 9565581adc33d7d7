#include <doctest/doctest.h>

#include "common/human_bytes.h"

using namespace ptp;

TEST_CASE("human_bytes") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(512) == "512 B");
  CHECK(human_bytes(1024) == "1 KiB");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(1 << 20) == "1 MiB");
  CHECK(human_bytes(1153433) == "1.1 MiB");
  CHECK(human_bytes(8ull << 20) == "8 MiB");
  CHECK(human_bytes(5ull << 40) == "5 TiB");
  CHECK(human_bytes(3ull << 50) == "3072 TiB");  // TiB is the largest unit
}
