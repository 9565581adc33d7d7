#include "router/he/paillier.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace ptp::he {
namespace {

// The DJN randomness r: uniform of |n|/2 bits.
void djn_exponent(const PublicKey& pk, BIGNUM* r) {
  bn_check(BN_priv_rand(r, pk.random_bits(), BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_priv_rand");
}

// A random n-th residue of Z_{n^2}^* in Montgomery form (times R mod n^2): h_s^r (DJN) or
// r^n (textbook). Multiplying a plaintext encoding by it with BN_mod_mul_montgomery gives
// the product in normal form.
void noise_mont(const PublicKey& pk, EncryptMode mode, BIGNUM* out, BN_CTX* ctx) {
  if (mode == EncryptMode::kDjn) {
    SecretBn r = secret_bn_new();
    djn_exponent(pk, r.get());
    pk.hs_table().pow_mont(out, r.get(), ctx);
    return;
  }
  // r is secret but the exponent n is public: BN_mod_exp_mont's window schedule and table
  // indices follow the exponent only, and its Montgomery multiplications do not branch on
  // the data. It is 10-20 % faster than the _consttime ladder here, and would switch to that
  // ladder if r carried BN_FLG_CONSTTIME, so r is a plain BIGNUM (still cleared on free).
  SecretBn base(BN_new());
  Bn g = bn_new();
  if (!base) throw std::runtime_error("BN_new: out of memory");
  for (;;) {
    bn_check(BN_priv_rand_range(base.get(), pk.n()), "BN_priv_rand_range");
    if (BN_is_zero(base.get())) continue;
    bn_check(BN_gcd(g.get(), base.get(), pk.n(), ctx), "BN_gcd");
    if (BN_is_one(g.get())) break;
  }
  bn_check(BN_mod_exp_mont(out, base.get(), pk.n(), pk.n_squared(), ctx, pk.mont_n2()),
           "BN_mod_exp_mont");
  bn_check(BN_to_montgomery(out, out, pk.mont_n2(), ctx), "BN_to_montgomery");
}

// fn(i, noise_i) for i in [0, count), each noise_i a fresh noise_mont value; in DJN mode
// computed FixedBaseTable::kBatchLanes at a time with pow_mont_batch.
template <typename Fn>
void for_each_noise(const PublicKey& pk, EncryptMode mode, size_t count, BN_CTX* ctx, Fn&& fn) {
  constexpr size_t kLanes = FixedBaseTable::kBatchLanes;
  std::vector<SecretBn> noise, r;
  std::array<BIGNUM*, kLanes> noise_ptrs{};
  std::array<const BIGNUM*, kLanes> r_ptrs{};
  for (size_t k = 0; k < std::min(kLanes, count); ++k) {
    noise.push_back(secret_bn_new());
    r.push_back(secret_bn_new());
    noise_ptrs[k] = noise[k].get();
    r_ptrs[k] = r[k].get();
  }
  for (size_t first = 0; first < count; first += kLanes) {
    const size_t lanes = std::min(kLanes, count - first);
    if (mode == EncryptMode::kDjn) {
      for (size_t k = 0; k < lanes; ++k) djn_exponent(pk, r[k].get());
      pk.hs_table().pow_mont_batch({noise_ptrs.data(), lanes}, {r_ptrs.data(), lanes}, ctx);
    } else {
      for (size_t k = 0; k < lanes; ++k) noise_mont(pk, mode, noise[k].get(), ctx);
    }
    for (size_t k = 0; k < lanes; ++k) fn(first + k, noise[k].get());
  }
}

// g^m = (1 + n)^m = 1 + m n mod n^2 (into a secret `g`); with m reduced mod n, 1 + m n < n^2
// needs no reduction.
void encode_plaintext(const PublicKey& pk, const BIGNUM* m, BIGNUM* g, BN_CTX* ctx) {
  bn_check(BN_nnmod(g, m, pk.n(), ctx), "BN_nnmod");
  bn_check(BN_mul(g, g, pk.n(), ctx), "BN_mul");
  bn_check(BN_add_word(g, 1), "BN_add_word");
}

// a * noise mod n^2 in normal form (noise is in Montgomery form).
Ciphertext times_noise(const PublicKey& pk, const BIGNUM* a, const BIGNUM* noise, BN_CTX* ctx) {
  Bn c = bn_new();
  bn_check(BN_mod_mul_montgomery(c.get(), a, noise, pk.mont_n2(), ctx), "BN_mod_mul_montgomery");
  return Ciphertext(std::move(c));
}

// m in [0, n) -> (-n/2, n/2]: values above n/2 stand for m - n.
void decode_signed(BIGNUM* m, const BIGNUM* n, BN_CTX* ctx) {
  BN_CTX_start(ctx);
  BIGNUM* twice = BN_CTX_get(ctx);
  bn_check(twice != nullptr, "BN_CTX_get");
  bn_check(BN_lshift1(twice, m), "BN_lshift1");
  if (BN_cmp(twice, n) > 0) bn_check(BN_sub(m, m, n), "BN_sub");
  BN_CTX_end(ctx);
}

// (x - 1) / d, the L function of Paillier (exact division for the x it is applied to).
void l_function(BIGNUM* out, BIGNUM* x, const BIGNUM* d, BN_CTX* ctx) {
  bn_check(BN_sub_word(x, 1), "BN_sub_word");
  bn_check(BN_div(out, nullptr, x, d, ctx), "BN_div");
}

// m_s = L_s(c^(s-1) mod s^2) * u_s mod s for one prime s of the key (u = hp or hq).
SecretBn crt_half(const BIGNUM* c, const BIGNUM* s, const BIGNUM* s2, const BIGNUM* sm1,
                  const BIGNUM* h, BN_MONT_CTX* mont, BN_CTX* ctx) {
  SecretBn cs = secret_bn_new(), x = secret_bn_new(), m = secret_bn_new();
  bn_check(BN_nnmod(cs.get(), c, s2, ctx), "BN_nnmod");
  bn_check(BN_mod_exp_mont_consttime(x.get(), cs.get(), sm1, s2, ctx, mont),
           "BN_mod_exp_mont_consttime");
  l_function(m.get(), x.get(), s, ctx);
  bn_check(BN_mod_mul(m.get(), m.get(), h, s, ctx), "BN_mod_mul");
  return m;
}

}  // namespace

void check_ciphertext(const PublicKey& pk, const BIGNUM* c) {
  if (c == nullptr || BN_is_negative(c) || BN_is_zero(c) || BN_cmp(c, pk.n_squared()) >= 0) {
    throw std::invalid_argument("paillier: ciphertext out of range (need 0 < c < n^2)");
  }
}

Ciphertext encrypt(const PublicKey& pk, const BIGNUM* m, EncryptMode mode) {
  BnCtx ctx = bn_ctx_secure_new();
  SecretBn g = secret_bn_new(), noise = secret_bn_new();
  encode_plaintext(pk, m, g.get(), ctx.get());
  noise_mont(pk, mode, noise.get(), ctx.get());
  return times_noise(pk, g.get(), noise.get(), ctx.get());
}

Ciphertext encrypt(const PublicKey& pk, int64_t m, EncryptMode mode) {
  SecretBn v = secret_bn_dup(bn_from_i64(m).get());
  return encrypt(pk, v.get(), mode);
}

std::vector<Ciphertext> encrypt_batch(const PublicKey& pk, std::span<const BIGNUM* const> ms,
                                      EncryptMode mode) {
  BnCtx ctx = bn_ctx_secure_new();
  SecretBn g = secret_bn_new();
  std::vector<Ciphertext> out;
  out.reserve(ms.size());
  for_each_noise(pk, mode, ms.size(), ctx.get(), [&](size_t i, const BIGNUM* noise) {
    encode_plaintext(pk, ms[i], g.get(), ctx.get());
    out.push_back(times_noise(pk, g.get(), noise, ctx.get()));
  });
  return out;
}

Bn decrypt(const PrivateKey& sk, const Ciphertext& c) {
  const PublicKey& pk = sk.public_key();
  check_ciphertext(pk, c.get());
  BnCtx ctx = bn_ctx_secure_new();
  SecretBn mp =
      crt_half(c.get(), sk.p(), sk.p_squared(), sk.p_minus_1(), sk.hp(), sk.mont_p2(), ctx.get());
  SecretBn mq =
      crt_half(c.get(), sk.q(), sk.q_squared(), sk.q_minus_1(), sk.hq(), sk.mont_q2(), ctx.get());
  // m = m_q + q * ((m_p - m_q) * q^-1 mod p), in [0, n).
  SecretBn t = secret_bn_new();
  bn_check(BN_mod_sub(t.get(), mp.get(), mq.get(), sk.p(), ctx.get()), "BN_mod_sub");
  bn_check(BN_mod_mul(t.get(), t.get(), sk.q_inv_p(), sk.p(), ctx.get()), "BN_mod_mul");
  Bn m = bn_new();
  bn_check(BN_mul(m.get(), t.get(), sk.q(), ctx.get()), "BN_mul");
  bn_check(BN_add(m.get(), m.get(), mq.get()), "BN_add");
  decode_signed(m.get(), pk.n(), ctx.get());
  return m;
}

Bn decrypt_textbook(const PrivateKey& sk, const Ciphertext& c) {
  const PublicKey& pk = sk.public_key();
  check_ciphertext(pk, c.get());
  BnCtx ctx = bn_ctx_secure_new();
  SecretBn lambda = secret_bn_new(), gcd = secret_bn_new(), u = secret_bn_new(),
           mu = secret_bn_new();
  // lambda = (p-1)(q-1) / gcd(p-1, q-1)
  bn_check(BN_mul(lambda.get(), sk.p_minus_1(), sk.q_minus_1(), ctx.get()), "BN_mul");
  bn_check(BN_gcd(gcd.get(), sk.p_minus_1(), sk.q_minus_1(), ctx.get()), "BN_gcd");
  bn_check(BN_div(lambda.get(), nullptr, lambda.get(), gcd.get(), ctx.get()), "BN_div");
  // mu = L(g^lambda mod n^2)^-1 mod n, g = n + 1
  Bn g = bn_dup(pk.n());
  bn_check(BN_add_word(g.get(), 1), "BN_add_word");
  bn_check(BN_mod_exp_mont_consttime(u.get(), g.get(), lambda.get(), pk.n_squared(), ctx.get(),
                                     pk.mont_n2()),
           "BN_mod_exp_mont_consttime");
  SecretBn l = secret_bn_new();
  l_function(l.get(), u.get(), pk.n(), ctx.get());
  bn_check(BN_mod_inverse(mu.get(), l.get(), pk.n(), ctx.get()) != nullptr, "BN_mod_inverse");
  // m = L(c^lambda mod n^2) * mu mod n
  bn_check(BN_mod_exp_mont_consttime(u.get(), c.get(), lambda.get(), pk.n_squared(), ctx.get(),
                                     pk.mont_n2()),
           "BN_mod_exp_mont_consttime");
  Bn m = bn_new();
  l_function(m.get(), u.get(), pk.n(), ctx.get());
  bn_check(BN_mod_mul(m.get(), m.get(), mu.get(), pk.n(), ctx.get()), "BN_mod_mul");
  decode_signed(m.get(), pk.n(), ctx.get());
  return m;
}

Ciphertext add(const PublicKey& pk, const Ciphertext& a, const Ciphertext& b) {
  check_ciphertext(pk, a.get());
  check_ciphertext(pk, b.get());
  BnCtx ctx = bn_ctx_new();
  Bn c = bn_new();
  // Two Montgomery steps (a b R^-1, then times R) are cheaper than BN_mod_mul's division.
  bn_check(BN_mod_mul_montgomery(c.get(), a.get(), b.get(), pk.mont_n2(), ctx.get()),
           "BN_mod_mul_montgomery");
  bn_check(BN_to_montgomery(c.get(), c.get(), pk.mont_n2(), ctx.get()), "BN_to_montgomery");
  return Ciphertext(std::move(c));
}

Ciphertext mul_plain(const PublicKey& pk, const Ciphertext& c, const BIGNUM* k) {
  check_ciphertext(pk, c.get());
  BnCtx ctx = bn_ctx_new();
  Bn base = bn_new();
  if (BN_is_negative(k)) {
    if (BN_mod_inverse(base.get(), c.get(), pk.n_squared(), ctx.get()) == nullptr) {
      throw std::invalid_argument("paillier: ciphertext is not invertible mod n^2");
    }
  } else {
    bn_check(BN_copy(base.get(), c.get()) != nullptr, "BN_copy");
  }
  SecretBn e = secret_bn_dup(k);
  BN_set_negative(e.get(), 0);
  Bn out = bn_new();
  // The scalar may be the evaluator's secret: constant-time exponentiation.
  bn_check(BN_mod_exp_mont_consttime(out.get(), base.get(), e.get(), pk.n_squared(), ctx.get(),
                                     pk.mont_n2()),
           "BN_mod_exp_mont_consttime");
  return Ciphertext(std::move(out));
}

Ciphertext mul_plain(const PublicKey& pk, const Ciphertext& c, int64_t k) {
  return mul_plain(pk, c, bn_from_i64(k).get());
}

Ciphertext rerandomize(const PublicKey& pk, const Ciphertext& c, EncryptMode mode) {
  check_ciphertext(pk, c.get());
  BnCtx ctx = bn_ctx_secure_new();
  SecretBn noise = secret_bn_new();
  noise_mont(pk, mode, noise.get(), ctx.get());
  return times_noise(pk, c.get(), noise.get(), ctx.get());
}

std::vector<Ciphertext> rerandomize_batch(const PublicKey& pk, std::span<const Ciphertext> cs,
                                          EncryptMode mode) {
  for (const Ciphertext& c : cs) check_ciphertext(pk, c.get());
  BnCtx ctx = bn_ctx_secure_new();
  std::vector<Ciphertext> out;
  out.reserve(cs.size());
  for_each_noise(pk, mode, cs.size(), ctx.get(), [&](size_t i, const BIGNUM* noise) {
    out.push_back(times_noise(pk, cs[i].get(), noise, ctx.get()));
  });
  return out;
}

}  // namespace ptp::he
