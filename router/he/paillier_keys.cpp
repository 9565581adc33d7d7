#include "router/he/paillier_keys.h"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>
#include <string>
#include <utility>

namespace ptp::he {
namespace {

// Trial division bound: a modulus with a prime factor below it is rejected.
constexpr unsigned kSmallPrimeBound = 10000;

constexpr size_t count_primes_below(unsigned bound) {
  size_t count = 0;
  for (unsigned i = 2; i < bound; ++i) {
    bool prime = true;
    for (unsigned d = 2; d * d <= i; ++d) {
      if (i % d == 0) {
        prime = false;
        break;
      }
    }
    count += prime ? 1 : 0;
  }
  return count;
}

template <size_t N>
constexpr std::array<uint16_t, N> sieve(unsigned bound) {
  std::array<bool, kSmallPrimeBound> composite{};
  std::array<uint16_t, N> primes{};
  size_t k = 0;
  for (unsigned i = 2; i < bound; ++i) {
    if (composite[i]) continue;
    primes[k++] = static_cast<uint16_t>(i);
    for (unsigned j = i * i; j < bound; j += i) composite[j] = true;
  }
  return primes;
}

constexpr auto kSmallPrimes = sieve<count_primes_below(kSmallPrimeBound)>(kSmallPrimeBound);
static_assert(kSmallPrimes.size() == 1229 && kSmallPrimes.back() == 9973);

std::string ordinal(int k) {
  const char* suffix = "th";
  if (k % 100 < 11 || k % 100 > 13) {
    if (k % 10 == 1) suffix = "st";
    if (k % 10 == 2) suffix = "nd";
    if (k % 10 == 3) suffix = "rd";
  }
  return std::to_string(k) + suffix;
}

// floor(n^(1/k)) for n > 0, k >= 2, by Newton's iteration from above.
Bn integer_root(const BIGNUM* n, int k, BN_CTX* ctx) {
  Bn x = bn_new(), y = bn_new(), t = bn_new(), k_bn = bn_from_i64(k), km1 = bn_from_i64(k - 1);
  // 2^ceil(bits/k) >= n^(1/k).
  bn_check(BN_set_bit(x.get(), (BN_num_bits(n) + k - 1) / k), "BN_set_bit");
  for (;;) {
    bn_check(BN_exp(t.get(), x.get(), km1.get(), ctx), "BN_exp");   // x^(k-1)
    bn_check(BN_div(t.get(), nullptr, n, t.get(), ctx), "BN_div");  // n / x^(k-1)
    bn_check(BN_mul(y.get(), x.get(), km1.get(), ctx), "BN_mul");   // (k-1) x
    bn_check(BN_add(y.get(), y.get(), t.get()), "BN_add");
    bn_check(BN_div(y.get(), nullptr, y.get(), k_bn.get(), ctx), "BN_div");
    if (BN_cmp(y.get(), x.get()) >= 0) return x;
    std::swap(x, y);
  }
}

// The prime k if n = a^k for some integer a and prime k (0 if none). n has no prime factor
// below kSmallPrimeBound, so a >= kSmallPrimeBound and k <= log2(n) / log2(10000) < bits/13.
int perfect_power_exponent(const BIGNUM* n, BN_CTX* ctx) {
  const int max_k = BN_num_bits(n) / 13;
  Bn t = bn_new(), k_bn = bn_new();
  for (uint16_t k : kSmallPrimes) {
    if (k > max_k) break;
    Bn root = integer_root(n, k, ctx);
    bn_check(BN_set_word(k_bn.get(), k), "BN_set_word");
    bn_check(BN_exp(t.get(), root.get(), k_bn.get(), ctx), "BN_exp");
    if (BN_cmp(t.get(), n) == 0) return k;
  }
  return 0;
}

// h_s = h^n mod n^2 for h = -x^2 mod n, x uniform in Z_n^*. x and h are secret (wiped);
// h_s is public. `pow_mod_n2(out, h)` computes h^n mod n^2 (directly or via CRT).
template <typename PowModN2>
Bn derive_hs(const BIGNUM* n, BN_CTX* ctx, PowModN2&& pow_mod_n2) {
  SecretBn x = secret_bn_new(), h = secret_bn_new();
  Bn g = bn_new();
  for (;;) {
    bn_check(BN_priv_rand_range(x.get(), n), "BN_priv_rand_range");
    if (BN_is_zero(x.get())) continue;
    bn_check(BN_gcd(g.get(), x.get(), n, ctx), "BN_gcd");
    if (BN_is_one(g.get())) break;
  }
  bn_check(BN_mod_sqr(h.get(), x.get(), n, ctx), "BN_mod_sqr");
  bn_check(BN_sub(h.get(), n, h.get()), "BN_sub");  // -x^2 mod n; x^2 != 0 as gcd(x,n) = 1
  Bn hs = bn_new();
  pow_mod_n2(hs.get(), h.get());
  return hs;
}

}  // namespace

// ---- validation ----

KeyCheck validate_modulus(const BIGNUM* n, int min_bits) {
  if (n == nullptr || BN_is_zero(n) || BN_is_negative(n)) return {"public key: n must be positive"};
  const int bits = BN_num_bits(n);
  if (bits < min_bits) {
    return {"public key: n has " + std::to_string(bits) + " bits, at least " +
            std::to_string(min_bits) + " required"};
  }
  if (bits > kMaxModulusBits) {
    return {"public key: n has " + std::to_string(bits) + " bits, at most " +
            std::to_string(kMaxModulusBits) + " supported"};
  }
  if (!BN_is_odd(n)) return {"public key: n is even"};
  for (uint16_t prime : kSmallPrimes) {
    BN_ULONG r = BN_mod_word(n, prime);
    if (r == static_cast<BN_ULONG>(-1)) {
      throw std::runtime_error("OpenSSL BN failure in BN_mod_word");
    }
    if (r == 0) return {"public key: n has a small factor " + std::to_string(prime)};
  }
  BnCtx ctx = bn_ctx_new();
  if (int k = perfect_power_exponent(n, ctx.get()); k != 0) {
    if (k == 2) return {"public key: n is a perfect square"};
    return {"public key: n is a perfect power (a " + ordinal(k) + " power)"};
  }
  return {};
}

KeyCheck validate_public_key(const BIGNUM* n, const BIGNUM* hs, int min_bits) {
  KeyCheck check = validate_modulus(n, min_bits);
  if (!check.ok()) return check;
  BnCtx ctx = bn_ctx_new();
  Bn n2 = bn_new(), g = bn_new();
  bn_check(BN_sqr(n2.get(), n, ctx.get()), "BN_sqr");
  if (hs == nullptr || BN_is_negative(hs) || BN_is_zero(hs) || BN_is_one(hs) ||
      BN_cmp(hs, n2.get()) >= 0) {
    return {"public key: h_s is out of range (need 1 < h_s < n^2)"};
  }
  bn_check(BN_gcd(g.get(), hs, n, ctx.get()), "BN_gcd");
  if (!BN_is_one(g.get())) return {"public key: h_s is not coprime to n"};
  return {};
}

// ---- PublicKey ----

PublicKey::PublicKey(const BIGNUM* n, const BIGNUM* hs, int min_bits, int window) {
  KeyCheck check = validate_public_key(n, hs, min_bits);
  if (!check.ok()) throw std::invalid_argument(check.error);
  init(n, hs, false, window);
}

PublicKey PublicKey::from_modulus(const BIGNUM* n, int min_bits, int window) {
  KeyCheck check = validate_modulus(n, min_bits);
  if (!check.ok()) throw std::invalid_argument(check.error);
  PublicKey pk;
  pk.init(n, nullptr, true, window);
  return pk;
}

void PublicKey::init(const BIGNUM* n, const BIGNUM* hs, bool derived, int window) {
  auto s = std::make_shared<State>();
  BnCtx ctx = bn_ctx_new();
  s->n = bn_dup(n);
  s->n2 = bn_new();
  bn_check(BN_sqr(s->n2.get(), n, ctx.get()), "BN_sqr");
  s->mont_n2 = mont_ctx_new(s->n2.get(), ctx.get());
  s->hs_derived = derived;
  if (hs != nullptr) {
    s->hs = bn_dup(hs);
  } else {
    s->hs = derive_hs(n, ctx.get(), [&](BIGNUM* out, const BIGNUM* h) {
      bn_check(BN_mod_exp_mont_consttime(out, h, n, s->n2.get(), ctx.get(), s->mont_n2.get()),
               "BN_mod_exp_mont_consttime");
    });
  }
  s->table = std::make_unique<FixedBaseTable>(s->hs.get(), s->n2.get(), BN_num_bits(n) / 2, window,
                                              s->mont_n2.get());
  s_ = std::move(s);
}

// ---- PrivateKey ----

PrivateKey::PrivateKey(const BIGNUM* p, const BIGNUM* q, const BIGNUM* hs, int min_bits,
                       int window) {
  if (p == nullptr || q == nullptr || BN_is_negative(p) || BN_is_negative(q)) {
    throw std::invalid_argument("private key: p and q must be positive");
  }
  BnCtx ctx = bn_ctx_secure_new();
  if (BN_cmp(p, q) == 0) throw std::invalid_argument("private key: p == q");
  if (BN_num_bits(p) != BN_num_bits(q)) {
    throw std::invalid_argument("private key: p and q must have the same number of bits");
  }
  for (const BIGNUM* f : {p, q}) {
    int prime = BN_check_prime(f, ctx.get(), nullptr);
    if (prime < 0) throw std::runtime_error("OpenSSL BN failure in BN_check_prime");
    if (prime == 0) {
      throw std::invalid_argument(std::string("private key: ") + (f == p ? "p" : "q") +
                                  " is not prime");
    }
  }
  p_ = secret_bn_dup(p);
  q_ = secret_bn_dup(q);
  Bn n = bn_new();
  bn_check(BN_mul(n.get(), p_.get(), q_.get(), ctx.get()), "BN_mul");
  KeyCheck check = validate_modulus(n.get(), min_bits);
  if (!check.ok()) throw std::invalid_argument(check.error);

  pm1_ = secret_bn_dup(p_.get());
  qm1_ = secret_bn_dup(q_.get());
  bn_check(BN_sub_word(pm1_.get(), 1), "BN_sub_word");
  bn_check(BN_sub_word(qm1_.get(), 1), "BN_sub_word");
  {
    // gcd(n, (p-1)(q-1)) = 1 makes g = n + 1 and the CRT below valid.
    SecretBn phi = secret_bn_new();
    Bn g = bn_new();
    bn_check(BN_mul(phi.get(), pm1_.get(), qm1_.get(), ctx.get()), "BN_mul");
    bn_check(BN_gcd(g.get(), n.get(), phi.get(), ctx.get()), "BN_gcd");
    if (!BN_is_one(g.get())) throw std::invalid_argument("private key: gcd(n, phi(n)) != 1");
  }
  p2_ = secret_bn_new();
  q2_ = secret_bn_new();
  bn_check(BN_sqr(p2_.get(), p_.get(), ctx.get()), "BN_sqr");
  bn_check(BN_sqr(q2_.get(), q_.get(), ctx.get()), "BN_sqr");
  BN_set_flags(p2_.get(), BN_FLG_CONSTTIME);
  BN_set_flags(q2_.get(), BN_FLG_CONSTTIME);
  mont_p2_ = mont_ctx_new(p2_.get(), ctx.get());
  mont_q2_ = mont_ctx_new(q2_.get(), ctx.get());

  // u_s = L_s(g^(s-1) mod s^2)^-1 mod s, g = n + 1, for s in {p, q} (hp_, hq_).
  Bn g = bn_dup(n.get());
  bn_check(BN_add_word(g.get(), 1), "BN_add_word");
  auto h_for = [&](const BIGNUM* s, const BIGNUM* s2, const BIGNUM* sm1, BN_MONT_CTX* mont) {
    SecretBn gs = secret_bn_new(), x = secret_bn_new(), l = secret_bn_new(), out = secret_bn_new();
    bn_check(BN_nnmod(gs.get(), g.get(), s2, ctx.get()), "BN_nnmod");
    bn_check(BN_mod_exp_mont_consttime(x.get(), gs.get(), sm1, s2, ctx.get(), mont),
             "BN_mod_exp_mont_consttime");
    bn_check(BN_sub_word(x.get(), 1), "BN_sub_word");
    bn_check(BN_div(l.get(), nullptr, x.get(), s, ctx.get()), "BN_div");
    if (BN_mod_inverse(out.get(), l.get(), s, ctx.get()) == nullptr) {
      throw std::invalid_argument("private key: L(g^(s-1)) is not invertible");
    }
    return out;
  };
  hp_ = h_for(p_.get(), p2_.get(), pm1_.get(), mont_p2_.get());
  hq_ = h_for(q_.get(), q2_.get(), qm1_.get(), mont_q2_.get());
  qinv_ = secret_bn_new();
  bn_check(BN_mod_inverse(qinv_.get(), q_.get(), p_.get(), ctx.get()) != nullptr, "BN_mod_inverse");

  if (hs == nullptr) {
    // h^n mod n^2 by CRT: h^n mod p^2 and mod q^2, each half the size of n^2.
    SecretBn q2inv = secret_bn_new();
    bn_check(BN_mod_inverse(q2inv.get(), q2_.get(), p2_.get(), ctx.get()) != nullptr,
             "BN_mod_inverse");
    Bn derived = derive_hs(n.get(), ctx.get(), [&](BIGNUM* out, const BIGNUM* h) {
      SecretBn t = secret_bn_new(), a = secret_bn_new(), b = secret_bn_new();
      bn_check(BN_nnmod(t.get(), h, p2_.get(), ctx.get()), "BN_nnmod");
      bn_check(BN_mod_exp_mont_consttime(a.get(), t.get(), n.get(), p2_.get(), ctx.get(),
                                         mont_p2_.get()),
               "BN_mod_exp_mont_consttime");
      bn_check(BN_nnmod(t.get(), h, q2_.get(), ctx.get()), "BN_nnmod");
      bn_check(BN_mod_exp_mont_consttime(b.get(), t.get(), n.get(), q2_.get(), ctx.get(),
                                         mont_q2_.get()),
               "BN_mod_exp_mont_consttime");
      // out = b + q^2 * ((a - b) * (q^2)^-1 mod p^2)
      bn_check(BN_mod_sub(a.get(), a.get(), b.get(), p2_.get(), ctx.get()), "BN_mod_sub");
      bn_check(BN_mod_mul(a.get(), a.get(), q2inv.get(), p2_.get(), ctx.get()), "BN_mod_mul");
      bn_check(BN_mul(out, a.get(), q2_.get(), ctx.get()), "BN_mul");
      bn_check(BN_add(out, out, b.get()), "BN_add");
    });
    pk_ = PublicKey(n.get(), derived.get(), min_bits, window);
    return;
  }
  // A supplied h_s must be an n-th residue, or DJN ciphertexts would not decrypt:
  // h_s^((p-1)(q-1)) = 1 mod n^2 exactly for those.
  pk_ = PublicKey(n.get(), hs, min_bits, window);
  SecretBn phi = secret_bn_new();
  Bn t = bn_new();
  bn_check(BN_mul(phi.get(), pm1_.get(), qm1_.get(), ctx.get()), "BN_mul");
  bn_check(
      BN_mod_exp_mont_consttime(t.get(), hs, phi.get(), pk_.n_squared(), ctx.get(), pk_.mont_n2()),
      "BN_mod_exp_mont_consttime");
  if (!BN_is_one(t.get())) throw std::invalid_argument("private key: h_s is not an n-th residue");
}

// ---- key generation ----

PrivateKey generate_private_key(int bits, int min_bits, int window) {
  const std::string size = "paillier keygen: |n| = " + std::to_string(bits) + " bits";
  if (bits < min_bits) {
    throw std::invalid_argument(size + ", at least " + std::to_string(min_bits) + " required");
  }
  if (bits > kMaxModulusBits) {
    throw std::invalid_argument(size + ", at most " + std::to_string(kMaxModulusBits) +
                                " supported");
  }
  if (bits % 2 != 0) throw std::invalid_argument(size + ", must be even");
  const int half = bits / 2;
  SecretBn p = secret_bn_new(), q = secret_bn_new(), d = secret_bn_new();
  for (int attempt = 0; attempt < 100; ++attempt) {
    bn_check(BN_generate_prime_ex(p.get(), half, 0, nullptr, nullptr, nullptr),
             "BN_generate_prime_ex");
    bn_check(BN_generate_prime_ex(q.get(), half, 0, nullptr, nullptr, nullptr),
             "BN_generate_prime_ex");
    bn_check(BN_sub(d.get(), p.get(), q.get()), "BN_sub");
    // p, q far apart (rules out Fermat factoring); implies p != q.
    if (BN_num_bits(d.get()) <= half - 100) continue;
    return PrivateKey(p.get(), q.get(), nullptr, min_bits, window);
  }
  throw std::runtime_error("paillier keygen: no suitable primes after 100 attempts");
}

}  // namespace ptp::he
