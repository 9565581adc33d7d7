// Batched fixed-base exponentiation and batched encryption (router/he): the same results as
// the single-value paths for every batch shape around the lane count.
#include <doctest/doctest.h>
#include <openssl/bn.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "router/he/bignum.h"
#include "router/he/fixed_base_table.h"
#include "router/he/paillier.h"
#include "router/he/paillier_keys.h"

using namespace ptp::he;

namespace {

constexpr int kTestBits = 1024;
constexpr size_t kLanes = FixedBaseTable::kBatchLanes;
// Empty, one, around one lane group, several groups with an odd tail.
const size_t kSizes[] = {0, 1, 2, kLanes - 1, kLanes, kLanes + 1, 2 * kLanes + 3};

const PrivateKey& test_key() {
  static const PrivateKey key = generate_private_key(kTestBits, kTestBits);
  return key;
}

bool bn_eq(const BIGNUM* a, const BIGNUM* b) { return BN_cmp(a, b) == 0; }

// count exponents of `bits` bits: 0, all ones (the largest allowed), 1, then random ones.
std::vector<Bn> exponents(size_t count, int bits) {
  std::vector<Bn> out;
  for (size_t i = 0; i < count; ++i) {
    Bn e = bn_new();
    if (i == 0) {
      BN_zero(e.get());
    } else if (i == 1) {
      REQUIRE(BN_set_bit(e.get(), bits) == 1);
      REQUIRE(BN_sub_word(e.get(), 1) == 1);
    } else if (i == 2) {
      REQUIRE(BN_one(e.get()) == 1);
    } else {
      REQUIRE(BN_rand(e.get(), bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1);
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Signed plaintexts: 0, +-1, int64 extremes, +-(n-1)/2, then alternating-sign values.
std::vector<Bn> plaintexts(size_t count, const PublicKey& pk) {
  Bn half = bn_dup(pk.n());
  REQUIRE(BN_rshift1(half.get(), half.get()) == 1);
  std::vector<Bn> out;
  for (size_t i = 0; i < count; ++i) {
    switch (i) {
      case 0:
        out.push_back(bn_from_i64(0));
        break;
      case 1:
        out.push_back(bn_from_i64(-1));
        break;
      case 2:
        out.push_back(bn_from_i64(std::numeric_limits<int64_t>::min()));
        break;
      case 3:
        out.push_back(bn_from_i64(std::numeric_limits<int64_t>::max()));
        break;
      case 4:
        out.push_back(bn_dup(half.get()));
        break;
      case 5:
        out.push_back(bn_dup(half.get()));
        BN_set_negative(out.back().get(), 1);
        break;
      default:
        out.push_back(bn_from_i64(static_cast<int64_t>(i * 1000003) * (i % 2 ? -1 : 1)));
    }
  }
  return out;
}

std::vector<const BIGNUM*> ptrs(const std::vector<Bn>& v) {
  std::vector<const BIGNUM*> out;
  for (const Bn& b : v) out.push_back(b.get());
  return out;
}

}  // namespace

TEST_CASE("paillier pow_mont_batch equals BN_mod_exp for every batch size and window") {
  const PublicKey& pk = test_key().public_key();
  BnCtx ctx = bn_ctx_new();
  for (int w : {1, 5, 6, 7, 8}) {
    const int bits = 150;
    FixedBaseTable table(pk.hs(), pk.n_squared(), bits, w, pk.mont_n2());
    for (size_t count : kSizes) {
      CAPTURE(w);
      CAPTURE(count);
      std::vector<Bn> exps = exponents(count, bits);
      std::vector<Bn> got;
      std::vector<BIGNUM*> out;
      for (size_t k = 0; k < count; ++k) {
        got.push_back(bn_new());
        out.push_back(got.back().get());
      }
      table.pow_mont_batch(out, ptrs(exps), ctx.get());
      for (size_t k = 0; k < count; ++k) {
        Bn want = bn_new(), single = bn_new();
        REQUIRE(BN_mod_exp(want.get(), pk.hs(), exps[k].get(), pk.n_squared(), ctx.get()) == 1);
        table.pow_mont(single.get(), exps[k].get(), ctx.get());
        CHECK(bn_eq(got[k].get(), single.get()));  // same Montgomery form as pow_mont
        REQUIRE(BN_from_montgomery(got[k].get(), got[k].get(), pk.mont_n2(), ctx.get()) == 1);
        CHECK_MESSAGE(bn_eq(got[k].get(), want.get()), "lane " << k);
      }
    }
  }
}

TEST_CASE("paillier pow_mont_batch with the key's own table, aliasing and bad input") {
  const PublicKey& pk = test_key().public_key();
  const FixedBaseTable& table = pk.hs_table();
  BnCtx ctx = bn_ctx_new();
  // Full-size exponents (|n|/2 bits), computed in place: out[k] aliases exps[k].
  std::vector<Bn> exps = exponents(kLanes + 1, pk.random_bits());
  std::vector<Bn> work;
  std::vector<BIGNUM*> out;
  for (const Bn& e : exps) {
    work.push_back(bn_dup(e.get()));
    out.push_back(work.back().get());
  }
  table.pow_mont_batch(out, std::vector<const BIGNUM*>(out.begin(), out.end()), ctx.get());
  for (size_t k = 0; k < exps.size(); ++k) {
    Bn want = bn_new();
    REQUIRE(BN_mod_exp(want.get(), pk.hs(), exps[k].get(), pk.n_squared(), ctx.get()) == 1);
    REQUIRE(BN_from_montgomery(work[k].get(), work[k].get(), pk.mont_n2(), ctx.get()) == 1);
    CHECK_MESSAGE(bn_eq(work[k].get(), want.get()), "lane " << k);
  }

  // An exponent one bit too long, anywhere in the batch, is refused before any result is
  // written; so are mismatched sizes.
  std::vector<Bn> bad = exponents(3, pk.random_bits());
  REQUIRE(BN_set_bit(bad[2].get(), pk.random_bits()) == 1);
  Bn r0 = bn_from_i64(7), r1 = bn_from_i64(7), r2 = bn_from_i64(7);
  BIGNUM* rs[] = {r0.get(), r1.get(), r2.get()};
  CHECK_THROWS_AS(table.pow_mont_batch(rs, ptrs(bad), ctx.get()), std::invalid_argument);
  CHECK(BN_is_word(r0.get(), 7));
  CHECK_THROWS_AS(table.pow_mont_batch(std::span<BIGNUM* const>(rs, 2), ptrs(exps), ctx.get()),
                  std::invalid_argument);
  Bn neg = bn_from_i64(-5);
  const BIGNUM* negs[] = {neg.get()};
  CHECK_THROWS_AS(table.pow_mont_batch(std::span<BIGNUM* const>(rs, 1), negs, ctx.get()),
                  std::invalid_argument);
}

TEST_CASE("paillier encrypt_batch decrypts like encrypt for every batch size, both modes") {
  const PrivateKey& sk = test_key();
  const PublicKey& pk = sk.public_key();
  for (EncryptMode mode : {EncryptMode::kDjn, EncryptMode::kTextbook}) {
    for (size_t count : kSizes) {
      if (mode == EncryptMode::kTextbook && count > kLanes + 1) continue;  // slow, same code
      CAPTURE(count);
      const std::vector<Bn> ms = plaintexts(count, pk);
      const std::vector<Ciphertext> cs = encrypt_batch(pk, ptrs(ms), mode);
      REQUIRE(cs.size() == count);
      for (size_t i = 0; i < count; ++i) {
        CAPTURE(i);
        check_ciphertext(pk, cs[i].get());  // 0 < c < n^2
        CHECK(bn_eq(decrypt(sk, cs[i]).get(), ms[i].get()));
        CHECK(bn_eq(decrypt(sk, encrypt(pk, ms[i].get(), mode)).get(), ms[i].get()));
        // Every lane has its own randomness: no two ciphertexts of a batch are equal.
        for (size_t j = 0; j < i; ++j) CHECK_FALSE(cs[i] == cs[j]);
      }
    }
  }
  // The same plaintext in every lane still gives distinct ciphertexts.
  std::vector<Bn> same;
  for (size_t i = 0; i < kLanes; ++i) same.push_back(bn_from_i64(-42));
  const std::vector<Ciphertext> cs = encrypt_batch(pk, ptrs(same));
  for (size_t i = 1; i < cs.size(); ++i) CHECK_FALSE(cs[i] == cs[0]);
  for (const Ciphertext& c : cs) CHECK(bn_to_i64(decrypt(sk, c).get()) == -42);
}

TEST_CASE("paillier rerandomize_batch keeps plaintexts and checks every input first") {
  const PrivateKey& sk = test_key();
  const PublicKey& pk = sk.public_key();
  for (size_t count : kSizes) {
    CAPTURE(count);
    const std::vector<Bn> ms = plaintexts(count, pk);
    const std::vector<Ciphertext> in = encrypt_batch(pk, ptrs(ms));
    const std::vector<Ciphertext> out = rerandomize_batch(pk, in);
    REQUIRE(out.size() == count);
    for (size_t i = 0; i < count; ++i) {
      CHECK_FALSE(out[i] == in[i]);
      CHECK(bn_eq(decrypt(sk, out[i]).get(), ms[i].get()));
    }
  }
  std::vector<Ciphertext> bad;
  bad.push_back(encrypt(pk, int64_t{1}));
  bad.push_back(Ciphertext(bn_dup(pk.n_squared())));
  CHECK_THROWS_WITH_AS(rerandomize_batch(pk, bad), doctest::Contains("out of range"),
                       std::invalid_argument);
  const std::vector<Ciphertext> textbook =
      rerandomize_batch(pk, std::span<const Ciphertext>(bad.data(), 1), EncryptMode::kTextbook);
  CHECK(bn_to_i64(decrypt(sk, textbook.at(0)).get()) == 1);
}
