#include "router/he/fixed_base_table.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
// One clone of the marked function per SIMD width, picked once at load time (ifunc).
#define PTP_SIMD_CLONES [[gnu::target_clones("avx512f", "avx2", "default")]]
#else
#define PTP_SIMD_CLONES
#endif

namespace ptp::he {
namespace {

// Bits i .. i+w-1 (w <= 8) of the little-endian byte string `le` (padded by one byte).
unsigned digit_at(const uint8_t* le, size_t bit, int w) {
  unsigned two = le[bit / 8] | (static_cast<unsigned>(le[bit / 8 + 1]) << 8);
  return (two >> (bit % 8)) & ((1u << w) - 1);
}

// The constant-time table scan works on blocks of this many bytes (one cache line); entries
// are padded to a whole number of blocks.
constexpr size_t kBlockBytes = 64;
// GCC/Clang vector extension: 64 bytes, lowered to whatever SIMD the target clone has.
typedef uint64_t Block __attribute__((vector_size(kBlockBytes)));

// All ones if a == b, else zero, without a branch on the values.
uint64_t ct_eq_mask(uint64_t a, uint64_t b) {
  uint64_t x = a ^ b;
  // (x | -x) has its top bit set iff x != 0.
  return ((x | (0 - x)) >> 63) - 1;
}

// out + k * entry_bytes = entry digits[k] of the row, for k < L (a digit >= entries selects
// nothing: zeros). The row is stored block column by block column (block b of entry j at
// row + b * entries + j * kBlockBytes), so one pass over a column is a sequential stream;
// every block of every entry is loaded exactly once, in address order, and masked into every
// lane: the digits change mask values only, never an address or a branch. The L
// accumulators of a column live in registers (AVX-512 has 32) or L1. `masks` is scratch
// space for entries * L words.
template <size_t L>
[[gnu::always_inline]] inline void select_row(const uint8_t* row, size_t entries,
                                              size_t entry_bytes, const uint64_t* digits,
                                              uint64_t* masks, uint8_t* out) {
  for (size_t j = 0; j < entries; ++j) {
    for (size_t k = 0; k < L; ++k) masks[j * L + k] = ct_eq_mask(j, digits[k]);
  }
  for (size_t b = 0; b < entry_bytes; b += kBlockBytes) {
    Block acc[L] = {};
    for (size_t j = 0; j < entries; ++j) {
      Block v;
      std::memcpy(&v, row + b * entries + j * kBlockBytes, sizeof(v));
#pragma GCC unroll 16
      for (size_t k = 0; k < L; ++k) acc[k] |= v & masks[j * L + k];
    }
    for (size_t k = 0; k < L; ++k) std::memcpy(out + k * entry_bytes + b, &acc[k], sizeof(Block));
  }
}

// The scan is compute-bound once batched, so the SIMD width matters.
PTP_SIMD_CLONES void select_row_1(const uint8_t* row, size_t entries, size_t entry_bytes,
                                  const uint64_t* digits, uint64_t* masks, uint8_t* out) {
  select_row<1>(row, entries, entry_bytes, digits, masks, out);
}

PTP_SIMD_CLONES void select_row_batch_generic(const uint8_t* row, size_t entries,
                                              size_t entry_bytes, const uint64_t* digits,
                                              uint64_t* masks, uint8_t* out) {
  select_row<FixedBaseTable::kBatchLanes>(row, entries, entry_bytes, digits, masks, out);
}

#if defined(__x86_64__)
// select_row<kBatchLanes> written for AVX-512 (3-6 % faster than the compiler's avx512f
// clone of the generic code): the masks come from a vector compare into a mask register,
// and acc | (v & mask) is one three-input logic instruction with the mask broadcast from
// memory. Same loads in the same order as the generic code.
[[gnu::target("avx512f")]] void select_row_batch_avx512(const uint8_t* row, size_t entries,
                                                        size_t entry_bytes, const uint64_t* digits,
                                                        uint64_t* masks, uint8_t* out) {
  constexpr size_t L = FixedBaseTable::kBatchLanes;
  static_assert(L % 8 == 0);
  __m512i d[L / 8];
  for (size_t h = 0; h < L / 8; ++h) d[h] = _mm512_loadu_si512(digits + 8 * h);
  for (size_t j = 0; j < entries; ++j) {
    const __m512i jv = _mm512_set1_epi64(static_cast<long long>(j));
    for (size_t h = 0; h < L / 8; ++h) {
      _mm512_storeu_si512(masks + j * L + 8 * h,
                          _mm512_maskz_set1_epi64(_mm512_cmpeq_epi64_mask(d[h], jv), -1));
    }
  }
  for (size_t b = 0; b < entry_bytes; b += kBlockBytes) {
    __m512i acc[L];
    for (size_t k = 0; k < L; ++k) acc[k] = _mm512_setzero_si512();
    for (size_t j = 0; j < entries; ++j) {
      const __m512i v = _mm512_loadu_si512(row + b * entries + j * kBlockBytes);
#pragma GCC unroll 16
      for (size_t k = 0; k < L; ++k) {
        // 0xF8: a | (b & c) for the operands (acc, v, mask).
        acc[k] = _mm512_ternarylogic_epi64(
            acc[k], v, _mm512_set1_epi64(static_cast<long long>(masks[j * L + k])), 0xF8);
      }
    }
    for (size_t k = 0; k < L; ++k) _mm512_storeu_si512(out + k * entry_bytes + b, acc[k]);
  }
}
#endif

void select_row_batch(const uint8_t* row, size_t entries, size_t entry_bytes,
                      const uint64_t* digits, uint64_t* masks, uint8_t* out) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return select_row_batch_avx512(row, entries, entry_bytes, digits, masks, out);
#endif
  select_row_batch_generic(row, entries, entry_bytes, digits, masks, out);
}

}  // namespace

FixedBaseTable::FixedBaseTable(const BIGNUM* base, const BIGNUM* modulus, int exponent_bits,
                               int window, BN_MONT_CTX* mont)
    : mont_(mont), exponent_bits_(exponent_bits), window_(window) {
  if (window < 1 || window > 8) {
    throw std::invalid_argument("fixed-base table: window must be 1..8");
  }
  if (exponent_bits < 1) throw std::invalid_argument("fixed-base table: exponent_bits must be > 0");
  windows_ = (static_cast<size_t>(exponent_bits) + window - 1) / window;
  entry_bytes_ =
      (static_cast<size_t>(BN_num_bytes(modulus)) + kBlockBytes - 1) / kBlockBytes * kBlockBytes;
  const size_t row = size_t{1} << window;
  entries_.resize(windows_ * row * entry_bytes_);

  BnCtx ctx = bn_ctx_new();
  Bn g = bn_new(), cur = bn_new(), one = bn_new();
  bn_check(BN_to_montgomery(g.get(), base, mont, ctx.get()), "BN_to_montgomery");
  bn_check(BN_to_montgomery(one.get(), BN_value_one(), mont, ctx.get()), "BN_to_montgomery");
  std::vector<uint8_t> entry(entry_bytes_);
  auto store = [&](size_t i, size_t d, const BIGNUM* v) {
    bn_check(BN_bn2lebinpad(v, entry.data(), static_cast<int>(entry_bytes_)) >= 0,
             "BN_bn2lebinpad");
    uint8_t* row_at = entries_.data() + i * row * entry_bytes_;
    for (size_t b = 0; b < entry_bytes_; b += kBlockBytes) {
      std::memcpy(row_at + b * row + d * kBlockBytes, entry.data() + b, kBlockBytes);
    }
  };
  // Row i holds g_i^d for g_i = base^(2^(w*i)); g_{i+1} = g_i^(2^w) = g_i^(2^w - 1) * g_i.
  for (size_t i = 0; i < windows_; ++i) {
    store(i, 0, one.get());
    bn_check(BN_copy(cur.get(), g.get()) != nullptr, "BN_copy");
    for (size_t d = 1; d < row; ++d) {
      store(i, d, cur.get());
      bn_check(BN_mod_mul_montgomery(cur.get(), cur.get(), g.get(), mont, ctx.get()),
               "BN_mod_mul_montgomery");
    }
    std::swap(g, cur);
  }
}

void FixedBaseTable::check_exponent(const BIGNUM* e) const {
  if (e == nullptr || BN_is_negative(e) || BN_num_bits(e) > exponent_bits_) {
    throw std::invalid_argument("fixed-base table: exponent has more than " +
                                std::to_string(exponent_bits_) + " bits");
  }
}

void FixedBaseTable::pow_mont(BIGNUM* r, const BIGNUM* e, BN_CTX* ctx) const {
  check_exponent(e);
  pow_group({&r, 1}, {&e, 1}, ctx);
}

void FixedBaseTable::pow_mont_batch(std::span<BIGNUM* const> out,
                                    std::span<const BIGNUM* const> exps, BN_CTX* ctx) const {
  if (out.size() != exps.size()) {
    throw std::invalid_argument("fixed-base table: " + std::to_string(exps.size()) +
                                " exponents for " + std::to_string(out.size()) + " results");
  }
  for (const BIGNUM* e : exps) check_exponent(e);
  for (size_t first = 0; first < exps.size(); first += kBatchLanes) {
    const size_t lanes = std::min(kBatchLanes, exps.size() - first);
    pow_group(out.subspan(first, lanes), exps.subspan(first, lanes), ctx);
  }
}

void FixedBaseTable::pow_group(std::span<BIGNUM* const> out, std::span<const BIGNUM* const> exps,
                               BN_CTX* ctx) const {
  const size_t lanes = exps.size();
  // A single exponent gets the 1-lane scan; a group the full-width one, its unused lanes
  // (digit `row`, below) select nothing and are not multiplied.
  const size_t width = lanes == 1 ? 1 : kBatchLanes;
  const size_t row = size_t{1} << window_;
  // Exponent bytes (secret), with one spare zero byte so digit_at may read two bytes.
  const size_t e_bytes = (windows_ * window_ + 7) / 8 + 1;
  std::vector<uint8_t> exp_bytes(lanes * e_bytes);
  // This window's digit per lane; unused lanes keep `row`, which matches no entry.
  std::vector<uint64_t> digits(width, row);
  std::vector<uint64_t> masks(row * width);  // scratch of the scan
  std::vector<uint8_t> selected(width * entry_bytes_);
  for (size_t k = 0; k < lanes; ++k) {
    bn_check(
        BN_bn2lebinpad(exps[k], exp_bytes.data() + k * e_bytes, static_cast<int>(e_bytes)) >= 0,
        "BN_bn2lebinpad");
  }
  BN_CTX_start(ctx);
  BIGNUM* t = BN_CTX_get(ctx);
  bn_check(t != nullptr, "BN_CTX_get");

  for (size_t i = 0; i < windows_; ++i) {
    for (size_t k = 0; k < lanes; ++k) {
      digits[k] = digit_at(exp_bytes.data() + k * e_bytes, i * window_, window_);
    }
    const uint8_t* base = entries_.data() + i * row * entry_bytes_;
    if (width == 1) {
      select_row_1(base, row, entry_bytes_, digits.data(), masks.data(), selected.data());
    } else {
      select_row_batch(base, row, entry_bytes_, digits.data(), masks.data(), selected.data());
    }
    for (size_t k = 0; k < lanes; ++k) {
      BIGNUM* dst = i == 0 ? out[k] : t;
      bn_check(BN_lebin2bn(selected.data() + k * entry_bytes_, static_cast<int>(entry_bytes_),
                           dst) != nullptr,
               "BN_lebin2bn");
      if (i > 0) {
        bn_check(BN_mod_mul_montgomery(out[k], out[k], t, mont_, ctx), "BN_mod_mul_montgomery");
      }
    }
  }
  OPENSSL_cleanse(exp_bytes.data(), exp_bytes.size());
  OPENSSL_cleanse(digits.data(), digits.size() * sizeof(uint64_t));
  OPENSSL_cleanse(masks.data(), masks.size() * sizeof(uint64_t));
  OPENSSL_cleanse(selected.data(), selected.size());
  BN_CTX_end(ctx);
}

}  // namespace ptp::he
