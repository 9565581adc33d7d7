#include <doctest/doctest.h>

#include <optional>

#include "gateway/exchange/body_budget.h"

using namespace ptp;

TEST_CASE("body budget: a charge holds bytes of both budgets until released") {
  BodyBudget process(100);
  ConnectionBodyBudget conn{60, 0};
  {
    BodyCharge a(&conn, &process);
    CHECK(a.add(40) == BodyCharge::Result::kOk);
    CHECK(a.add(20) == BodyCharge::Result::kOk);  // exactly the connection's limit
    CHECK(conn.used == 60);
    CHECK(process.used() == 60);
    CHECK(a.add(1) == BodyCharge::Result::kConnectionFull);
    CHECK(a.held() == 60);  // a refused add takes nothing
    CHECK(process.used() == 60);
  }  // destroyed: everything goes back
  CHECK(conn.used == 0);
  CHECK(process.used() == 0);
}

TEST_CASE("body budget: the process budget is shared by connections") {
  BodyBudget process(100);
  ConnectionBodyBudget c1{80, 0}, c2{80, 0};
  BodyCharge a(&c1, &process), b(&c2, &process);
  CHECK(a.add(70) == BodyCharge::Result::kOk);
  CHECK(b.add(31) == BodyCharge::Result::kProcessFull);
  CHECK(c2.used == 0);  // nothing taken from the connection either
  CHECK(b.add(30) == BodyCharge::Result::kOk);
  CHECK(process.used() == 100);
  a.release();
  a.release();  // twice is harmless
  CHECK(process.used() == 30);
  CHECK(c1.used == 0);
  CHECK(b.add(70) == BodyCharge::Result::kConnectionFull);  // c2 allows only 50 more
  CHECK(b.add(50) == BodyCharge::Result::kOk);
  CHECK(process.used() == 80);
}

TEST_CASE("body budget: sizes near the limits do not wrap") {
  BodyBudget process(UINT64_MAX - 1);
  CHECK(process.try_take(UINT64_MAX - 1));
  CHECK_FALSE(process.try_take(2));
  CHECK_FALSE(process.try_take(UINT64_MAX));
  ConnectionBodyBudget conn{10, 0};
  BodyCharge c(&conn, nullptr);  // no process budget
  CHECK(c.add(UINT64_MAX) == BodyCharge::Result::kConnectionFull);
  CHECK(c.add(10) == BodyCharge::Result::kOk);
}
