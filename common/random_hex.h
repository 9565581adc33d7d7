// Random ids (trace ids, message ids, run ids) as lower-case hex, from OpenSSL's CSPRNG.
#pragma once

#include <cstddef>
#include <string>

namespace ptp {

// `bytes` random bytes as 2 * bytes hex digits.
std::string random_hex(size_t bytes);

// Random 32-hex-digit trace id for requests that arrive without one.
std::string new_trace_id();

}  // namespace ptp
