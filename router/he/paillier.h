// Paillier encryption, CRT decryption and the homomorphic operations (g = n + 1).
//
// All functions take immutable keys and use a BN_CTX of their own per call, so any number of
// threads may encrypt, decrypt or evaluate with the same key at once.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "router/he/bignum.h"
#include "router/he/paillier_keys.h"

namespace ptp::he {

enum class EncryptMode {
  // c = (1 + m n) * h_s^r mod n^2, r uniform of |n|/2 bits, h_s^r from the fixed-base table.
  kDjn,
  // c = (1 + m n) * r^n mod n^2, r uniform in Z_n^* (the original scheme; ~10x slower).
  kTextbook,
};

// A ciphertext: an element of Z_{n^2}. Copies are deep.
class Ciphertext {
 public:
  explicit Ciphertext(Bn c) : c_(std::move(c)) {}
  Ciphertext(const Ciphertext& o) : c_(bn_dup(o.get())) {}
  Ciphertext& operator=(const Ciphertext& o) {
    if (this != &o) c_ = bn_dup(o.get());
    return *this;
  }
  Ciphertext(Ciphertext&&) noexcept = default;
  Ciphertext& operator=(Ciphertext&&) noexcept = default;

  const BIGNUM* get() const { return c_.get(); }
  bool operator==(const Ciphertext& o) const { return BN_cmp(get(), o.get()) == 0; }

 private:
  Bn c_;
};

// Throws std::invalid_argument unless 0 < c < n^2. Whether c is a unit mod n^2 is not checked
// (a gcd per element would cost more than the additions); a non-unit reveals a factor of n,
// so only the key holder can produce one.
void check_ciphertext(const PublicKey& pk, const BIGNUM* c);

// m may be negative or larger than n; it is reduced mod n. Signed values decrypt correctly
// while |m| < n/2.
Ciphertext encrypt(const PublicKey& pk, const BIGNUM* m, EncryptMode mode = EncryptMode::kDjn);
Ciphertext encrypt(const PublicKey& pk, int64_t m, EncryptMode mode = EncryptMode::kDjn);
// encrypt(pk, ms[i], mode) for every i (same ciphertext distribution), the way to encrypt a
// vector: in DJN mode h_s^r is computed for FixedBaseTable::kBatchLanes plaintexts at a time
// (pow_mont_batch, one constant-time scan of each table row per group). Textbook mode
// encrypts one by one.
std::vector<Ciphertext> encrypt_batch(const PublicKey& pk, std::span<const BIGNUM* const> ms,
                                      EncryptMode mode = EncryptMode::kDjn);

// CRT decryption, decoded as signed: the plaintext m in [0, n) is returned as m - n when
// m > n/2. Throws std::invalid_argument if c is not a valid ciphertext for the key.
Bn decrypt(const PrivateKey& sk, const Ciphertext& c);
// Reference decryption without CRT: m = L(c^lambda mod n^2) * mu mod n, lambda =
// lcm(p-1, q-1), mu = L(g^lambda mod n^2)^-1 mod n. Several times slower; for cross-checks.
Bn decrypt_textbook(const PrivateKey& sk, const Ciphertext& c);

// [a + b] = [a] * [b] mod n^2.
Ciphertext add(const PublicKey& pk, const Ciphertext& a, const Ciphertext& b);
// [k * m] = [m]^k mod n^2; a negative k uses the inverse of c. The result is deterministic
// given c and k: rerandomize it before it leaves this process.
Ciphertext mul_plain(const PublicKey& pk, const Ciphertext& c, const BIGNUM* k);
Ciphertext mul_plain(const PublicKey& pk, const Ciphertext& c, int64_t k);
// c * (fresh encryption of 0): same plaintext, unlinkable ciphertext.
Ciphertext rerandomize(const PublicKey& pk, const Ciphertext& c,
                       EncryptMode mode = EncryptMode::kDjn);
// rerandomize(pk, cs[i], mode) for every i, batched like encrypt_batch. Every ciphertext is
// checked before any is rerandomized.
std::vector<Ciphertext> rerandomize_batch(const PublicKey& pk, std::span<const Ciphertext> cs,
                                          EncryptMode mode = EncryptMode::kDjn);

}  // namespace ptp::he
