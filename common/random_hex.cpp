#include "common/random_hex.h"

#include <openssl/rand.h>

#include <vector>

#include "codecs/hex.h"

namespace ptp {

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  RAND_bytes(raw.data(), static_cast<int>(bytes));
  return hex_encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

std::string new_trace_id() { return random_hex(16); }

std::string RandomIds::hex(size_t bytes) {
  if (bytes > 64) return random_hex(bytes);
  if (pool_.size() - used_ < bytes) {
    // A failed draw leaves the pool used up (no id twice): this id comes the slow way.
    if (RAND_bytes(pool_.data(), static_cast<int>(pool_.size())) != 1) return random_hex(bytes);
    used_ = 0;
  }
  const std::string out =
      hex_encode(std::string_view(reinterpret_cast<const char*>(pool_.data() + used_), bytes));
  used_ += bytes;
  return out;
}

}  // namespace ptp
