#include "router/he/bignum.h"

#include <openssl/crypto.h>

#include <array>
#include <stdexcept>
#include <string>

namespace ptp::he {
namespace {

constexpr unsigned __int128 kI128SignBit = static_cast<unsigned __int128>(1) << 127;

Bn from_magnitude(unsigned __int128 mag, bool negative) {
  std::array<uint8_t, 16> buf{};
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(mag >> (8 * i));
  Bn r = bn_from_le(buf);
  BN_set_negative(r.get(), negative && !BN_is_zero(r.get()) ? 1 : 0);
  return r;
}

// |a| if it fits 128 bits.
std::optional<unsigned __int128> magnitude(const BIGNUM* a) {
  if (BN_num_bytes(a) > 16) return std::nullopt;
  std::array<uint8_t, 16> buf{};
  if (BN_bn2lebinpad(a, buf.data(), static_cast<int>(buf.size())) < 0) return std::nullopt;
  unsigned __int128 v = 0;
  for (size_t i = buf.size(); i-- > 0;) v = (v << 8) | buf[i];
  return v;
}

}  // namespace

void bn_check(int ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL BN failure in ") + what);
}

Bn bn_new() {
  Bn r(BN_new());
  if (!r) throw std::runtime_error("BN_new: out of memory");
  return r;
}

SecretBn secret_bn_new() {
  SecretBn r(BN_secure_new());
  if (!r) throw std::runtime_error("BN_secure_new: out of memory");
  BN_set_flags(r.get(), BN_FLG_CONSTTIME);
  return r;
}

BnCtx bn_ctx_new() {
  BnCtx c(BN_CTX_new());
  if (!c) throw std::runtime_error("BN_CTX_new: out of memory");
  return c;
}

BnCtx bn_ctx_secure_new() {
  BnCtx c(BN_CTX_secure_new());
  if (!c) throw std::runtime_error("BN_CTX_secure_new: out of memory");
  return c;
}

Bn bn_dup(const BIGNUM* a) {
  Bn r(BN_dup(a));
  if (!r) throw std::runtime_error("BN_dup: out of memory");
  return r;
}

SecretBn secret_bn_dup(const BIGNUM* a) {
  SecretBn r = secret_bn_new();
  bn_check(BN_copy(r.get(), a) != nullptr, "BN_copy");
  BN_set_flags(r.get(), BN_FLG_CONSTTIME);
  return r;
}

MontCtx mont_ctx_new(const BIGNUM* modulus, BN_CTX* ctx) {
  MontCtx m(BN_MONT_CTX_new());
  if (!m) throw std::runtime_error("BN_MONT_CTX_new: out of memory");
  bn_check(BN_MONT_CTX_set(m.get(), modulus, ctx), "BN_MONT_CTX_set");
  return m;
}

Bn bn_from_le(std::span<const uint8_t> bytes) {
  Bn r(BN_lebin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!r) throw std::runtime_error("BN_lebin2bn: out of memory");
  return r;
}

std::string bn_to_le(const BIGNUM* a) { return bn_to_le_padded(a, BN_num_bytes(a)); }

std::string bn_to_le_padded(const BIGNUM* a, size_t len) {
  if (static_cast<size_t>(BN_num_bytes(a)) > len) {
    throw std::invalid_argument("bignum: value has " + std::to_string(BN_num_bytes(a)) +
                                " bytes, more than " + std::to_string(len));
  }
  std::string out(len, '\0');
  if (len > 0) {
    bn_check(BN_bn2lebinpad(a, reinterpret_cast<unsigned char*>(out.data()),
                            static_cast<int>(len)) == static_cast<int>(len),
             "BN_bn2lebinpad");
  }
  return out;
}

Bn bn_from_i64(int64_t v) {
  // The magnitude of INT64_MIN does not fit int64_t; compute it unsigned.
  uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  return from_magnitude(mag, v < 0);
}

Bn bn_from_u64(uint64_t v) { return from_magnitude(v, false); }

Bn bn_from_i128(__int128 v) {
  unsigned __int128 mag =
      v < 0 ? 0 - static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  return from_magnitude(mag, v < 0);
}

Bn bn_from_u128(unsigned __int128 v) { return from_magnitude(v, false); }

std::optional<int64_t> bn_to_i64(const BIGNUM* a) {
  auto v = bn_to_i128(a);
  if (!v || *v > INT64_MAX || *v < INT64_MIN) return std::nullopt;
  return static_cast<int64_t>(*v);
}

std::optional<__int128> bn_to_i128(const BIGNUM* a) {
  auto mag = magnitude(a);
  if (!mag) return std::nullopt;
  if (BN_is_negative(a)) {
    if (*mag > kI128SignBit) return std::nullopt;
    return static_cast<__int128>(0 - *mag);  // two's complement; exact for -2^127 too
  }
  if (*mag >= kI128SignBit) return std::nullopt;
  return static_cast<__int128>(*mag);
}

std::optional<unsigned __int128> bn_to_u128(const BIGNUM* a) {
  if (BN_is_negative(a)) return std::nullopt;
  return magnitude(a);
}

std::string bn_to_dec(const BIGNUM* a) {
  char* s = BN_bn2dec(a);
  if (!s) throw std::runtime_error("BN_bn2dec: out of memory");
  std::string out(s);
  OPENSSL_free(s);
  return out;
}

}  // namespace ptp::he
