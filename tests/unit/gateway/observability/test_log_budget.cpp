#include <doctest/doctest.h>

#include "gateway/observability/log_budget.h"

TEST_CASE("LogBudget: a burst at once, then lines at the rate, with the count left out") {
  using namespace std::chrono_literals;
  ptp::LogBudget b(1.0, 3.0);
  const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    CHECK(b.allow(suppressed, t0));
    CHECK(suppressed == 0);
  }
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(b.allow(suppressed, t0 + 500ms));
  CHECK(b.allow(suppressed, t0 + 1s));
  CHECK(suppressed == 1000);
  CHECK_FALSE(b.allow(suppressed, t0 + 1500ms));
  // A long pause refills the burst, no more.
  CHECK(b.allow(suppressed, t0 + 100s));
  CHECK(suppressed == 1);
  for (int i = 0; i < 2; ++i) CHECK(b.allow(suppressed, t0 + 100s));
  CHECK_FALSE(b.allow(suppressed, t0 + 100s));
  // A clock read out of order refills nothing.
  CHECK_FALSE(b.allow(suppressed, t0 + 50s));
}
