#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "gateway/http/connection_limit.h"

using namespace ptp;

TEST_CASE("ConnectionLimit: slots up to the limit, freed by release or destruction") {
  ConnectionLimit limit(2);
  ConnectionSlot a = limit.try_acquire();
  ConnectionSlot b = limit.try_acquire();
  CHECK(a);
  CHECK(b);
  CHECK(limit.open() == 2);
  CHECK_FALSE(limit.try_acquire());
  CHECK(limit.open() == 2);  // a refused acquire leaves the count as it was
  a.release();
  a.release();  // idempotent
  CHECK(limit.open() == 1);
  {
    ConnectionSlot c = limit.try_acquire();
    CHECK(c);
    CHECK_FALSE(limit.try_acquire());
    ConnectionSlot moved = std::move(c);  // a moved slot is counted once
    CHECK(limit.open() == 2);
  }
  CHECK(limit.open() == 1);
  b = limit.try_acquire();  // assigning over a held slot frees the old one
  CHECK(limit.open() == 1);
  b = ConnectionSlot();
  CHECK(limit.open() == 0);
}
