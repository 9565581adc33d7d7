// A cryptographically secure pseudo-random generator for share splitting: AES-128 in counter
// mode (OpenSSL EVP) over a fresh key from RAND_priv_bytes, producing bulk random bytes at
// cipher speed. Not thread-safe: use one Prg per thread.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>

namespace ptp::shares {

class Prg {
 public:
  // Keyed from RAND_priv_bytes.
  Prg();
  // Deterministic stream (key = seed, counter from 0). For statistical tests only: shares made
  // with a known seed are not secret.
  explicit Prg(const std::array<uint8_t, 16>& fixed_seed);

  Prg(Prg&&) noexcept = default;
  Prg& operator=(Prg&&) noexcept = default;

  // Fills `out` with the next bytes of the stream.
  void fill(std::span<uint8_t> out);
  uint64_t next_u64();

 private:
  struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }  // also wipes the key
  };
  void init(const uint8_t* key);
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx_;
};

}  // namespace ptp::shares
