// Paillier keys in the Damgård–Jurik–Nielsen (DJN) form with g = n + 1.
//
// Public key: n, n^2 and h_s = h^n mod n^2 for h = -x^2 mod n (x random, coprime to n).
// Encryption then needs h_s^r for a short r (|n|/2 bits) instead of r^n, and h_s^r comes from
// a fixed-base table (FixedBaseTable) precomputed once per key.
// Private key: p, q and the CRT values for decryption (see paillier.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "router/he/bignum.h"
#include "router/he/fixed_base_table.h"

namespace ptp::he {

// Production floor for |n|. Tests pass a lower `min_bits` to keep key generation fast.
constexpr int kMinModulusBits = 2048;
// Ceiling, so a peer cannot make us build tables for (or exponentiate with) a huge modulus.
constexpr int kMaxModulusBits = 8192;
// Window width of the h_s fixed-base table, chosen with ptp-bench-he_bench --windows
// (docs/router-he.md): at |n| = 2048, 7 (9.2 MiB per key) is the fastest for single
// encryptions and within a few % of 8 for batched ones, where 8 needs 16 MiB and is ~20 %
// slower for single ones.
constexpr int kDefaultFixedBaseWindow = 7;

// Outcome of a key check: `error` is empty when the key is acceptable.
struct KeyCheck {
  std::string error;
  bool ok() const { return error.empty(); }
};

// Checks that n can be a Paillier modulus: positive, min_bits <= |n| <= kMaxModulusBits, odd,
// no prime factor below 10000, not a perfect power. Each failure has its own message, e.g.
// "public key: n has a small factor 3".
KeyCheck validate_modulus(const BIGNUM* n, int min_bits = kMinModulusBits);
// validate_modulus plus 1 < h_s < n^2 and gcd(h_s, n) = 1.
KeyCheck validate_public_key(const BIGNUM* n, const BIGNUM* hs, int min_bits = kMinModulusBits);

class PublicKey {
 public:
  // Validates with validate_public_key; throws std::invalid_argument with its message.
  PublicKey(const BIGNUM* n, const BIGNUM* hs, int min_bits = kMinModulusBits,
            int window = kDefaultFixedBaseWindow);

  // For a peer that publishes n only. h_s is derived here, exactly as the key holder would
  // (h = -x^2 mod n for a fresh random x coprime to n, h_s = h^n mod n^2): the result has the
  // same distribution as a key holder's h_s, needs no secret (x is wiped right away), and is
  // an n-th residue, so the key holder decrypts the ciphertexts with the usual private key.
  // Semantic security still rests on DCR as for any valid h_s. hs_derived() is then true and
  // the fingerprint and wire encoding cover n only (the key as the peer published it).
  static PublicKey from_modulus(const BIGNUM* n, int min_bits = kMinModulusBits,
                                int window = kDefaultFixedBaseWindow);

  const BIGNUM* n() const { return s_->n.get(); }
  const BIGNUM* n_squared() const { return s_->n2.get(); }
  const BIGNUM* hs() const { return s_->hs.get(); }
  int modulus_bits() const { return BN_num_bits(n()); }
  // Bits of the DJN randomness r: |n| / 2.
  int random_bits() const { return s_->table->exponent_bits(); }
  bool hs_derived() const { return s_->hs_derived; }
  // Montgomery context of n^2, shared (read-only) by all operations with this key.
  BN_MONT_CTX* mont_n2() const { return s_->mont_n2.get(); }
  const FixedBaseTable& hs_table() const { return *s_->table; }

 private:
  struct State {
    Bn n;
    Bn n2;
    Bn hs;
    bool hs_derived = false;
    MontCtx mont_n2;
    std::unique_ptr<FixedBaseTable> table;
  };
  friend class PrivateKey;  // builds its PublicKey after deriving h_s
  PublicKey() = default;
  void init(const BIGNUM* n, const BIGNUM* hs, bool derived, int window);

  // Immutable once built; copies of a PublicKey share it.
  std::shared_ptr<const State> s_;
};

// Move-only; every secret value is wiped (BN_clear_free) when the key is destroyed.
class PrivateKey {
 public:
  // From the primes. `hs` null: derive a fresh h_s (via CRT, fast). Throws
  // std::invalid_argument if p or q is not prime, p == q, the sizes differ, or the modulus
  // fails validate_modulus.
  PrivateKey(const BIGNUM* p, const BIGNUM* q, const BIGNUM* hs = nullptr,
             int min_bits = kMinModulusBits, int window = kDefaultFixedBaseWindow);
  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;

  const PublicKey& public_key() const { return pk_; }
  const BIGNUM* p() const { return p_.get(); }
  const BIGNUM* q() const { return q_.get(); }

  // CRT decryption values: for s in {p, q}, c^(s-1) mod s^2 is computed in Montgomery form
  // modulo s^2 and m_s = L_s(.) * u_s mod s, with L_s(x) = (x - 1) / s and
  // u_s = L_s(g^(s-1) mod s^2)^-1 mod s (hp(), hq()); m = CRT(m_p, m_q) using q^-1 mod p.
  const BIGNUM* p_squared() const { return p2_.get(); }
  const BIGNUM* q_squared() const { return q2_.get(); }
  const BIGNUM* p_minus_1() const { return pm1_.get(); }
  const BIGNUM* q_minus_1() const { return qm1_.get(); }
  const BIGNUM* hp() const { return hp_.get(); }
  const BIGNUM* hq() const { return hq_.get(); }
  const BIGNUM* q_inv_p() const { return qinv_.get(); }
  BN_MONT_CTX* mont_p2() const { return mont_p2_.get(); }
  BN_MONT_CTX* mont_q2() const { return mont_q2_.get(); }

 private:
  SecretBn p_, q_, p2_, q2_, pm1_, qm1_, hp_, hq_, qinv_;
  MontCtx mont_p2_, mont_q2_;
  PublicKey pk_;
};

// New key with |n| = bits (even, >= min_bits): p, q random primes of bits/2 bits each
// (BN_generate_prime_ex, top two bits set so |n| is exact), p != q, |p - q| > 2^(bits/2-100),
// gcd(n, (p-1)(q-1)) = 1.
PrivateKey generate_private_key(int bits = kMinModulusBits, int min_bits = kMinModulusBits,
                                int window = kDefaultFixedBaseWindow);

}  // namespace ptp::he
