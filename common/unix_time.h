// Wall-clock seconds since the epoch: token expiries, outbox TTLs, job timestamps.
#pragma once

#include <chrono>
#include <cstdint>

namespace ptp {

inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ptp
