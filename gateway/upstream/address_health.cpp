#include "gateway/upstream/address_health.h"

namespace ptp {

bool record_check(AddressHealth& h, bool ok, int fall, int rise, std::string why) {
  h.why = ok ? std::string() : std::move(why);
  if (ok == h.up) {
    h.streak = 0;
    return false;
  }
  if (++h.streak < (h.up ? fall : rise)) return false;
  h.up = ok;
  h.streak = 0;
  return true;
}

size_t choose_address(std::span<const AddressHealth> addresses) {
  for (size_t i = 0; i < addresses.size(); ++i)
    if (addresses[i].up) return i;
  return 0;
}

}  // namespace ptp
