#include <doctest/doctest.h>
#include <openssl/bn.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "router/he/bignum.h"
#include "router/he/paillier.h"
#include "router/he/paillier_keys.h"

using namespace ptp::he;

namespace {

// 1024-bit keys keep the tests fast; one test below uses the production size.
constexpr int kTestBits = 1024;

// One key for the tests that only need "a" key; built once, never modified.
const PrivateKey& test_key() {
  static const PrivateKey key = generate_private_key(kTestBits, kTestBits);
  return key;
}

Bn dec(const char* s) {
  BIGNUM* b = nullptr;
  REQUIRE(BN_dec2bn(&b, s) > 0);
  return Bn(b);
}

Bn prime(int bits) {
  Bn p = bn_new();
  REQUIRE(BN_generate_prime_ex(p.get(), bits, 0, nullptr, nullptr, nullptr) == 1);
  return p;
}

Bn mul(const BIGNUM* a, const BIGNUM* b) {
  BnCtx ctx = bn_ctx_new();
  Bn r = bn_new();
  REQUIRE(BN_mul(r.get(), a, b, ctx.get()) == 1);
  return r;
}

Bn add_word(const BIGNUM* a, BN_ULONG w) {
  Bn r = bn_dup(a);
  REQUIRE(BN_add_word(r.get(), w) == 1);
  return r;
}

// (n - 1) / 2: the largest positive plaintext.
Bn half_n(const PublicKey& pk) {
  Bn h = bn_dup(pk.n());
  REQUIRE(BN_rshift1(h.get(), h.get()) == 1);
  return h;
}

bool bn_eq(const BIGNUM* a, const BIGNUM* b) { return BN_cmp(a, b) == 0; }

std::string check_error(const BIGNUM* n, const BIGNUM* hs, int min_bits = kTestBits) {
  return validate_public_key(n, hs, min_bits).error;
}

}  // namespace

TEST_CASE("paillier bignum conversions round-trip signed 64/128-bit values and bytes") {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, std::numeric_limits<int64_t>::max(),
                    std::numeric_limits<int64_t>::min()}) {
    CHECK(bn_to_i64(bn_from_i64(v).get()) == v);
  }
  const __int128 big = (static_cast<__int128>(1) << 126) + 12345;
  for (__int128 v :
       {big, -big, std::numeric_limits<__int128>::min(), std::numeric_limits<__int128>::max()}) {
    CHECK(bn_to_i128(bn_from_i128(v).get()) == v);
  }
  const unsigned __int128 umax = ~static_cast<unsigned __int128>(0);
  CHECK(bn_to_u128(bn_from_u128(umax).get()) == umax);
  CHECK_FALSE(bn_to_i128(bn_from_u128(umax).get()).has_value());
  CHECK_FALSE(bn_to_i64(bn_from_i128(big).get()).has_value());
  CHECK_FALSE(bn_to_u128(bn_from_i64(-1).get()).has_value());

  Bn x = dec("1208925819614629174706176");  // 2^80
  std::string le = bn_to_le(x.get());
  REQUIRE(le.size() == 11);
  CHECK(le[10] == 1);
  CHECK(bn_eq(bn_from_le({reinterpret_cast<const uint8_t*>(le.data()), le.size()}).get(), x.get()));
  CHECK(bn_to_le(bn_from_i64(0).get()).empty());
  CHECK(bn_to_le_padded(x.get(), 16).size() == 16);
  CHECK_THROWS_AS(bn_to_le_padded(x.get(), 10), std::invalid_argument);
}

TEST_CASE("paillier fixed-base table matches BN_mod_exp for every window width") {
  const PublicKey& pk = test_key().public_key();
  BnCtx ctx = bn_ctx_new();
  const int bits = 200;
  for (int w = 1; w <= 8; ++w) {
    FixedBaseTable table(pk.hs(), pk.n_squared(), bits, w, pk.mont_n2());
    std::vector<Bn> exps;
    exps.push_back(bn_from_i64(0));
    exps.push_back(bn_from_i64(1));
    Bn all_ones = bn_new();
    REQUIRE(BN_set_bit(all_ones.get(), bits) == 1);
    REQUIRE(BN_sub_word(all_ones.get(), 1) == 1);
    exps.push_back(std::move(all_ones));
    for (int i = 0; i < 3; ++i) {
      Bn e = bn_new();
      REQUIRE(BN_rand(e.get(), bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1);
      exps.push_back(std::move(e));
    }
    for (const Bn& e : exps) {
      Bn got = bn_new(), want = bn_new();
      table.pow_mont(got.get(), e.get(), ctx.get());
      REQUIRE(BN_from_montgomery(got.get(), got.get(), pk.mont_n2(), ctx.get()) == 1);
      REQUIRE(BN_mod_exp(want.get(), pk.hs(), e.get(), pk.n_squared(), ctx.get()) == 1);
      CHECK_MESSAGE(bn_eq(got.get(), want.get()), "window " << w << " e=" << bn_to_dec(e.get()));
    }
  }
  FixedBaseTable table(pk.hs(), pk.n_squared(), bits, 4, pk.mont_n2());
  Bn too_big = bn_new();
  REQUIRE(BN_set_bit(too_big.get(), bits) == 1);
  Bn r = bn_new();
  CHECK_THROWS_AS(table.pow_mont(r.get(), too_big.get(), ctx.get()), std::invalid_argument);
  CHECK_THROWS_AS(FixedBaseTable(pk.hs(), pk.n_squared(), bits, 9, pk.mont_n2()),
                  std::invalid_argument);
}

TEST_CASE("paillier keygen produces a valid DJN key of the requested size") {
  const PrivateKey& sk = test_key();
  const PublicKey& pk = sk.public_key();
  CHECK(pk.modulus_bits() == kTestBits);
  CHECK(pk.random_bits() == kTestBits / 2);
  CHECK_FALSE(pk.hs_derived());
  CHECK(bn_eq(mul(sk.p(), sk.q()).get(), pk.n()));
  CHECK(validate_public_key(pk.n(), pk.hs(), kTestBits).ok());
  // Below the production floor unless the caller lowers it.
  CHECK_THROWS_WITH_AS(generate_private_key(kTestBits), doctest::Contains("at least 2048"),
                       std::invalid_argument);
  CHECK_THROWS_AS(generate_private_key(1023, 512), std::invalid_argument);  // odd size
}

TEST_CASE("paillier encrypt/decrypt round trip in both modes, incl. 0, +-1 and +-n/2") {
  const PrivateKey& sk = test_key();
  const PublicKey& pk = sk.public_key();
  Bn half = half_n(pk);
  Bn neg_half = bn_dup(half.get());
  BN_set_negative(neg_half.get(), 1);
  std::vector<Bn> values;
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{42}, int64_t{-42},
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    values.push_back(bn_from_i64(v));
  }
  values.push_back(bn_from_i128(std::numeric_limits<__int128>::min()));
  values.push_back(bn_dup(half.get()));
  values.push_back(bn_dup(neg_half.get()));
  for (EncryptMode mode : {EncryptMode::kDjn, EncryptMode::kTextbook}) {
    for (const Bn& m : values) {
      Ciphertext c = encrypt(pk, m.get(), mode);
      CHECK_MESSAGE(bn_eq(decrypt(sk, c).get(), m.get()), bn_to_dec(m.get()));
    }
  }
  // Encryption is randomized.
  CHECK_FALSE(encrypt(pk, int64_t{7}) == encrypt(pk, int64_t{7}));
  // Plaintexts are taken mod n: (n+1)/2 is the same residue as -(n-1)/2.
  Bn above_half = add_word(half.get(), 1);
  CHECK(bn_eq(decrypt(sk, encrypt(pk, above_half.get())).get(), neg_half.get()));
  Bn n_plus_5 = add_word(pk.n(), 5);
  CHECK(bn_to_i64(decrypt(sk, encrypt(pk, n_plus_5.get())).get()) == 5);
  CHECK(bn_to_i64(decrypt(sk, encrypt(pk, int64_t{-3})).get()) == -3);
}

TEST_CASE("paillier CRT decryption equals textbook decryption for both encryption modes") {
  const PrivateKey& sk = test_key();
  const PublicKey& pk = sk.public_key();
  for (EncryptMode mode : {EncryptMode::kDjn, EncryptMode::kTextbook}) {
    for (int i = 0; i < 4; ++i) {
      Bn m = bn_new();
      REQUIRE(BN_rand_range(m.get(), pk.n()) == 1);
      Ciphertext c = encrypt(pk, m.get(), mode);
      Bn fast = decrypt(sk, c), slow = decrypt_textbook(sk, c);
      CHECK(bn_eq(fast.get(), slow.get()));
    }
  }
}

TEST_CASE("paillier homomorphic add, mul_plain and rerandomize") {
  const PrivateKey& sk = test_key();
  const PublicKey& pk = sk.public_key();
  auto val = [&](const Ciphertext& c) { return bn_to_i64(decrypt(sk, c).get()); };

  Ciphertext a = encrypt(pk, int64_t{1000});
  Ciphertext b = encrypt(pk, int64_t{-1234}, EncryptMode::kTextbook);
  CHECK(val(add(pk, a, b)) == -234);
  CHECK(val(add(pk, b, b)) == -2468);
  // Sums wrap mod n: (n-1)/2 + 1 reads as -(n-1)/2.
  Bn half = half_n(pk);
  Bn neg_half = bn_dup(half.get());
  BN_set_negative(neg_half.get(), 1);
  CHECK(bn_eq(decrypt(sk, add(pk, encrypt(pk, half.get()), encrypt(pk, int64_t{1}))).get(),
              neg_half.get()));

  CHECK(val(mul_plain(pk, a, 3)) == 3000);
  CHECK(val(mul_plain(pk, a, -2)) == -2000);
  CHECK(val(mul_plain(pk, b, -1)) == 1234);
  CHECK(val(mul_plain(pk, a, int64_t{0})) == 0);
  Bn big_k = bn_from_i128(static_cast<__int128>(1) << 100);
  Bn expect = bn_from_i128(static_cast<__int128>(1000) << 100);
  CHECK(bn_eq(decrypt(sk, mul_plain(pk, a, big_k.get())).get(), expect.get()));

  for (EncryptMode mode : {EncryptMode::kDjn, EncryptMode::kTextbook}) {
    Ciphertext r = rerandomize(pk, a, mode);
    CHECK_FALSE(r == a);
    CHECK(val(r) == 1000);
  }

  // Out-of-range ciphertexts are refused, not computed on.
  Ciphertext zero(bn_from_i64(0));
  Ciphertext too_big(bn_dup(pk.n_squared()));
  CHECK_THROWS_WITH_AS(add(pk, a, zero), doctest::Contains("out of range"), std::invalid_argument);
  CHECK_THROWS_AS(decrypt(sk, too_big), std::invalid_argument);
  CHECK_THROWS_AS(mul_plain(pk, too_big, 2), std::invalid_argument);
  CHECK_THROWS_AS(rerandomize(pk, zero), std::invalid_argument);
}

TEST_CASE("paillier encryption from many threads with one key") {
  const PrivateKey& sk = test_key();
  const PublicKey& pk = sk.public_key();
  constexpr int kThreads = 4, kPerThread = 8;
  std::vector<std::vector<Ciphertext>> out(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        out[t].push_back(
            encrypt(pk, int64_t{t * 1000 + i}, i % 2 ? EncryptMode::kTextbook : EncryptMode::kDjn));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      CHECK(bn_to_i64(decrypt(sk, out[t][i]).get()) == t * 1000 + i);
    }
  }
}

TEST_CASE("paillier n-only public key derives h_s; the key holder still decrypts") {
  const PrivateKey& sk = test_key();
  PublicKey derived = PublicKey::from_modulus(sk.public_key().n(), kTestBits);
  CHECK(derived.hs_derived());
  CHECK_FALSE(bn_eq(derived.hs(), sk.public_key().hs()));
  CHECK(validate_public_key(derived.n(), derived.hs(), kTestBits).ok());
  for (int64_t v : {int64_t{0}, int64_t{-77}, int64_t{123456789}}) {
    CHECK(bn_to_i64(decrypt(sk, encrypt(derived, v)).get()) == v);
  }
  CHECK_THROWS_WITH_AS(PublicKey::from_modulus(add_word(sk.public_key().n(), 1).get(), kTestBits),
                       "public key: n is even", std::invalid_argument);
}

TEST_CASE("paillier private key from primes checks its inputs and a supplied h_s") {
  const PrivateKey& sk = test_key();
  // Same primes and the published h_s: accepted, same public key.
  PrivateKey again(sk.p(), sk.q(), sk.public_key().hs(), kTestBits);
  CHECK(bn_eq(again.public_key().hs(), sk.public_key().hs()));
  CHECK(bn_to_i64(decrypt(again, encrypt(sk.public_key(), int64_t{-5})).get()) == -5);
  // An h_s that is not an n-th residue would break DJN decryption.
  Bn not_residue = add_word(sk.public_key().n(), 2);
  CHECK_THROWS_WITH_AS(PrivateKey(sk.p(), sk.q(), not_residue.get(), kTestBits),
                       "private key: h_s is not an n-th residue", std::invalid_argument);
  CHECK_THROWS_WITH_AS(PrivateKey(sk.p(), sk.p(), nullptr, kTestBits), "private key: p == q",
                       std::invalid_argument);
  Bn composite = add_word(sk.p(), 2);  // almost surely not prime (skip if a twin prime)
  if (BN_check_prime(composite.get(), nullptr, nullptr) == 0) {
    CHECK_THROWS_WITH_AS(PrivateKey(composite.get(), sk.q(), nullptr, kTestBits),
                         "private key: p is not prime", std::invalid_argument);
  }
}

TEST_CASE("paillier public key validation rejects each bad key with its own message") {
  const PublicKey& pk = test_key().public_key();
  const BIGNUM* n = pk.n();
  const BIGNUM* hs = pk.hs();
  CHECK(check_error(n, hs).empty());

  SUBCASE("too small") {
    CHECK(check_error(n, hs, 2048) == "public key: n has 1024 bits, at least 2048 required");
    CHECK(validate_public_key(n, hs).error ==
          "public key: n has 1024 bits, at least 2048 required");
  }
  SUBCASE("not positive") {
    Bn neg = bn_dup(n);
    BN_set_negative(neg.get(), 1);
    CHECK(check_error(neg.get(), hs) == "public key: n must be positive");
    CHECK(check_error(bn_from_i64(0).get(), hs) == "public key: n must be positive");
  }
  SUBCASE("even n") { CHECK(check_error(add_word(n, 1).get(), hs) == "public key: n is even"); }
  SUBCASE("small factor") {
    CHECK(check_error(mul(n, bn_from_i64(3).get()).get(), hs) ==
          "public key: n has a small factor 3");
    CHECK(check_error(mul(n, bn_from_i64(9973).get()).get(), hs) ==
          "public key: n has a small factor 9973");
    // 10007 is the first prime above the trial-division bound.
    CHECK(check_error(mul(n, bn_from_i64(10007).get()).get(), hs).empty());
  }
  SUBCASE("perfect square") {
    Bn p = prime(kTestBits / 2);
    Bn square = mul(p.get(), p.get());
    CHECK(check_error(square.get(), hs) == "public key: n is a perfect square");
  }
  SUBCASE("perfect cube and higher powers") {
    Bn p = prime(kTestBits / 3 + 1);
    Bn cube = mul(mul(p.get(), p.get()).get(), p.get());
    CHECK(check_error(cube.get(), hs) == "public key: n is a perfect power (a 3rd power)");
    // (10007 * 10009)^37 has 986 bits.
    Bn base = mul(bn_from_i64(10007).get(), bn_from_i64(10009).get());
    Bn power = bn_from_i64(1);
    for (int i = 0; i < 37; ++i) power = mul(power.get(), base.get());
    CHECK(check_error(power.get(), hs, 512) == "public key: n is a perfect power (a 37th power)");
  }
  SUBCASE("h_s out of range") {
    const std::string msg = "public key: h_s is out of range (need 1 < h_s < n^2)";
    CHECK(check_error(n, bn_from_i64(0).get()) == msg);
    CHECK(check_error(n, bn_from_i64(1).get()) == msg);
    CHECK(check_error(n, bn_from_i64(-5).get()) == msg);
    CHECK(check_error(n, pk.n_squared()) == msg);
    CHECK(check_error(n, nullptr) == msg);
    CHECK(check_error(n, add_word(pk.n_squared(), 7).get()) == msg);
  }
  SUBCASE("h_s not coprime to n") {
    CHECK(check_error(n, test_key().p()) == "public key: h_s is not coprime to n");
    CHECK(check_error(n, n) == "public key: h_s is not coprime to n");
  }
  SUBCASE("the constructor throws the same message") {
    CHECK_THROWS_WITH_AS(PublicKey(add_word(n, 1).get(), hs, kTestBits), "public key: n is even",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(PublicKey(n, hs), doctest::Contains("at least 2048 required"),
                         std::invalid_argument);
  }
}

TEST_CASE("paillier 2048-bit key at the production floor") {
  PrivateKey sk = generate_private_key();
  const PublicKey& pk = sk.public_key();
  CHECK(pk.modulus_bits() == 2048);
  CHECK(pk.random_bits() == 1024);
  CHECK(validate_public_key(pk.n(), pk.hs()).ok());
  Ciphertext a = encrypt(pk, int64_t{-123456789012345});
  Ciphertext b = encrypt(pk, int64_t{5}, EncryptMode::kTextbook);
  CHECK(bn_to_i64(decrypt(sk, add(pk, a, b)).get()) == -123456789012340);
  CHECK(bn_eq(decrypt(sk, a).get(), decrypt_textbook(sk, a).get()));
}
