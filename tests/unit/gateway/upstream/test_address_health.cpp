// The fall/rise state machine of one address and the choice among a peer's addresses.
#include <doctest/doctest.h>

#include <vector>

#include "gateway/upstream/address_health.h"

using namespace ptp;

TEST_CASE("an address goes down after `fall` failures in a row and up after `rise` successes") {
  AddressHealth h;
  CHECK(h.up);
  // fall 2: one failure is not enough; a success in between starts the count again.
  CHECK_FALSE(record_check(h, false, 2, 3, "refused"));
  CHECK(h.up);
  CHECK(h.why == "refused");
  CHECK_FALSE(record_check(h, true, 2, 3));
  CHECK(h.why.empty());
  CHECK_FALSE(record_check(h, false, 2, 3, "refused"));
  CHECK(record_check(h, false, 2, 3, "refused again"));
  CHECK_FALSE(h.up);
  CHECK(h.why == "refused again");
  // Down: more failures change nothing.
  CHECK_FALSE(record_check(h, false, 2, 3, "x"));
  // rise 3: two successes and a failure do not bring it up ...
  CHECK_FALSE(record_check(h, true, 2, 3));
  CHECK_FALSE(record_check(h, true, 2, 3));
  CHECK_FALSE(record_check(h, false, 2, 3, "flap"));
  CHECK_FALSE(h.up);
  // ... three in a row do.
  CHECK_FALSE(record_check(h, true, 2, 3));
  CHECK_FALSE(record_check(h, true, 2, 3));
  CHECK(record_check(h, true, 2, 3));
  CHECK(h.up);
}

TEST_CASE("fall 1 and rise 1 move on every changed result") {
  AddressHealth h;
  CHECK(record_check(h, false, 1, 1, "down"));
  CHECK_FALSE(h.up);
  CHECK(record_check(h, true, 1, 1));
  CHECK(h.up);
  CHECK_FALSE(record_check(h, true, 1, 1));
}

TEST_CASE("traffic goes to the first address that is up, else to the first") {
  std::vector<AddressHealth> a(3);
  CHECK(choose_address(a) == 0);
  a[0].up = false;
  CHECK(choose_address(a) == 1);
  a[1].up = false;
  CHECK(choose_address(a) == 2);
  a[2].up = false;
  CHECK(choose_address(a) == 0);  // none up: the first, whose requests fail fast
  a[1].up = true;
  CHECK(choose_address(a) == 1);
  a[0].up = true;  // the first is back: traffic goes back to it
  CHECK(choose_address(a) == 0);
  CHECK(choose_address(std::span<const AddressHealth>()) == 0);
}
