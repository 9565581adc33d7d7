// RAII wrappers for OpenSSL BIGNUM, BN_CTX and BN_MONT_CTX, and conversions between BIGNUMs,
// little-endian byte strings and signed 64/128-bit integers.
#pragma once

#include <openssl/bn.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace ptp::he {

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
// For secrets: BN_clear_free zeroes the limbs before freeing them.
struct BnClearFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
struct MontCtxFree {
  void operator()(BN_MONT_CTX* m) const { BN_MONT_CTX_free(m); }
};

using Bn = std::unique_ptr<BIGNUM, BnFree>;
using SecretBn = std::unique_ptr<BIGNUM, BnClearFree>;
using BnCtx = std::unique_ptr<BN_CTX, BnCtxFree>;
using MontCtx = std::unique_ptr<BN_MONT_CTX, MontCtxFree>;

// OpenSSL reports failure only on allocation errors or internal inconsistencies; these
// become std::runtime_error naming the operation (`what`).
void bn_check(int ok, const char* what);

Bn bn_new();
// A BIGNUM flagged BN_FLG_CONSTTIME, freed with BN_clear_free.
SecretBn secret_bn_new();
BnCtx bn_ctx_new();
// BN_CTX_secure_new: temporaries of secret computations live in the secure heap when one
// is configured, and are cleared when released.
BnCtx bn_ctx_secure_new();
Bn bn_dup(const BIGNUM* a);
SecretBn secret_bn_dup(const BIGNUM* a);
// Montgomery context for an odd modulus. Set BN_FLG_CONSTTIME on the modulus first when
// it is secret.
MontCtx mont_ctx_new(const BIGNUM* modulus, BN_CTX* ctx);

// Magnitude only: the sign is dropped (callers that need it carry it separately).
Bn bn_from_le(std::span<const uint8_t> bytes);
// Minimal little-endian magnitude (empty for zero). The sign is not encoded.
std::string bn_to_le(const BIGNUM* a);
// Little-endian magnitude zero-padded to exactly `len` bytes; throws std::invalid_argument
// if |a| does not fit.
std::string bn_to_le_padded(const BIGNUM* a, size_t len);

Bn bn_from_i64(int64_t v);
Bn bn_from_u64(uint64_t v);
Bn bn_from_i128(__int128 v);
Bn bn_from_u128(unsigned __int128 v);
// nullopt if the value does not fit the target type.
std::optional<int64_t> bn_to_i64(const BIGNUM* a);
std::optional<__int128> bn_to_i128(const BIGNUM* a);
std::optional<unsigned __int128> bn_to_u128(const BIGNUM* a);

// Decimal, for messages and tests.
std::string bn_to_dec(const BIGNUM* a);

}  // namespace ptp::he
