// The health of one of a peer's addresses (peers[i].addresses, docs/configuration.md) as
// its checks report, and which address traffic goes to. Pure: the checker
// (gateway/upstream/peer_health) feeds it results and publishes the choice.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace ptp {

struct AddressHealth {
  bool up = true;   // an address not checked yet counts as up
  int streak = 0;   // checks in a row whose result disagrees with `up`
  std::string why;  // the last failed check's reason ("" after a good one)
};

// One check's result: `fall` failures in a row take an up address down, `rise` successes
// in a row bring a down one up; a result that agrees with the state resets the count.
// True when the address changed state.
bool record_check(AddressHealth& h, bool ok, int fall, int rise, std::string why = {});

// The address traffic goes to: the first (in configuration order) that is up; when none
// is, the first (its requests then fail fast with a connect error, never hang).
size_t choose_address(std::span<const AddressHealth> addresses);

}  // namespace ptp
