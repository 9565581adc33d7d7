#include "router/shares/prg.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

namespace ptp::shares {

Prg::Prg() {
  std::array<uint8_t, 16> key;
  if (RAND_priv_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw std::runtime_error("prg: RAND_priv_bytes failed");
  }
  init(key.data());
  OPENSSL_cleanse(key.data(), key.size());
}

Prg::Prg(const std::array<uint8_t, 16>& fixed_seed) { init(fixed_seed.data()); }

void Prg::init(const uint8_t* key) {
  ctx_.reset(EVP_CIPHER_CTX_new());
  if (!ctx_) throw std::runtime_error("prg: EVP_CIPHER_CTX_new failed");
  // The key is used once per Prg, so a zero initial counter block is safe.
  const std::array<uint8_t, 16> iv{};
  if (EVP_EncryptInit_ex(ctx_.get(), EVP_aes_128_ctr(), nullptr, key, iv.data()) != 1) {
    throw std::runtime_error("prg: AES-128-CTR init failed");
  }
}

void Prg::fill(std::span<uint8_t> out) {
  // Keystream = encryption of zeros, in place, in chunks that fit EVP's int lengths.
  constexpr size_t kChunk = size_t{1} << 30;
  std::memset(out.data(), 0, out.size());
  for (size_t off = 0; off < out.size(); off += kChunk) {
    const int len = static_cast<int>(std::min(kChunk, out.size() - off));
    int written = 0;
    if (EVP_EncryptUpdate(ctx_.get(), out.data() + off, &written, out.data() + off, len) != 1 ||
        written != len) {
      throw std::runtime_error("prg: AES-128-CTR failed");
    }
  }
}

uint64_t Prg::next_u64() {
  uint8_t b[8];
  fill(b);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

}  // namespace ptp::shares
