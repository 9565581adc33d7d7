// Fixed-base exponentiation for DJN encryption: h_s^r with a precomputed table, single or
// batched, with a memory access pattern that does not depend on the (secret) exponent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "router/he/bignum.h"

namespace ptp::he {

// base^e mod m for a fixed base and exponents e < 2^exponent_bits, with no squarings: for
// window width w the table holds base^(d * 2^(w*i)) for every digit d < 2^w and window i,
// so base^e is the product of one entry per window (ceil(bits/w) Montgomery
// multiplications). Entries are read with a constant-time scan of the window's row: every
// entry is loaded and masked, so the memory access pattern does not depend on e (the
// exponent is the encryption randomness).
// Immutable after construction; pow_mont() and pow_mont_batch() may be called from many
// threads.
class FixedBaseTable {
 public:
  // Exponents per row scan in pow_mont_batch. With AVX-512 the lanes' accumulators for one
  // 64-byte column of a row fill 16 of the 32 vector registers while the column streams
  // past once for all of them.
  static constexpr size_t kBatchLanes = 16;

  // `mont` is the Montgomery context of `modulus`; it must outlive the table.
  FixedBaseTable(const BIGNUM* base, const BIGNUM* modulus, int exponent_bits, int window,
                 BN_MONT_CTX* mont);

  // r = base^e mod m in Montgomery form (base^e * R mod m). e must be non-negative and have
  // at most exponent_bits() bits (std::invalid_argument otherwise).
  void pow_mont(BIGNUM* r, const BIGNUM* e, BN_CTX* ctx) const;

  // out[k] = pow_mont(exps[k]) for every k (same sizes, else std::invalid_argument; every
  // exponent is checked before anything is computed). Exponents are taken kBatchLanes at a
  // time and each table row is streamed once per group: every entry is masked into every
  // lane, so the access pattern is that of pow_mont, with ~kBatchLanes times less memory
  // traffic per exponent. out[k] may alias exps[k].
  void pow_mont_batch(std::span<BIGNUM* const> out, std::span<const BIGNUM* const> exps,
                      BN_CTX* ctx) const;

  int exponent_bits() const { return exponent_bits_; }
  int window() const { return window_; }
  size_t memory_bytes() const { return entries_.size(); }

 private:
  void check_exponent(const BIGNUM* e) const;
  // pow_mont_batch for 1 .. kBatchLanes exponents.
  void pow_group(std::span<BIGNUM* const> out, std::span<const BIGNUM* const> exps,
                 BN_CTX* ctx) const;

  BN_MONT_CTX* mont_;
  int exponent_bits_;
  int window_;
  size_t windows_;      // ceil(exponent_bits / window)
  size_t entry_bytes_;  // bytes of the modulus, rounded up to a multiple of 64
  // One row per window, each row 2^w entries of entry_bytes_ little-endian bytes (Montgomery
  // form), stored block column by block column: the 64-byte block b of entry d is at
  // row + b * 2^w + d * 64, so the constant-time scan streams through memory in order.
  std::vector<uint8_t> entries_;
};

}  // namespace ptp::he
