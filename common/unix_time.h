// Wall-clock time since the epoch: token expiries, outbox TTLs, job timestamps (seconds);
// evidence times (milliseconds).
#pragma once

#include <chrono>
#include <cstdint>

namespace ptp {

inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The same in milliseconds: evidence records, signed send and receive times.
inline int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ptp
