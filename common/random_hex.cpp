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

}  // namespace ptp
