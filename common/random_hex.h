// Random ids (trace ids, message ids, run ids) as lower-case hex, from OpenSSL's CSPRNG.
#pragma once

#include <array>
#include <cstddef>
#include <string>

namespace ptp {

// `bytes` random bytes as 2 * bytes hex digits.
std::string random_hex(size_t bytes);

// Random 32-hex-digit trace id for requests that arrive without one.
std::string new_trace_id();

// Random ids for one thread's hot path (the trace id of each request that arrives without
// one): draws the CSPRNG 1 KiB at a time instead of once per id. A RAND_bytes call costs
// about 6 000 instructions (OpenSSL 3.0's DRBG, its locks and reseed checks), which made
// 5 % of a source gateway's CPU per unary request (docs/benchmarks.md "The floor"). For ids,
// not for secrets: unused random bytes wait in memory. Not thread-safe: one per thread.
class RandomIds {
 public:
  // `bytes` (at most 64) random bytes as 2 * bytes hex digits.
  std::string hex(size_t bytes);
  std::string trace_id() { return hex(16); }

 private:
  std::array<unsigned char, 1024> pool_{};
  size_t used_ = sizeof(pool_);  // empty: the first id fills it
};

}  // namespace ptp
