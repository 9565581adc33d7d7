#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "router/shares/prg.h"
#include "router/shares/share_vector.h"

using namespace ptp::shares;

namespace {

constexpr std::array<uint8_t, 16> kSeed{0x50, 0x54, 0x50, 0x2d, 0x73, 0x68, 0x61, 0x72,
                                        0x65, 0x73, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x31};

// Upper 0.001 quantile of chi-square with k degrees of freedom (Wilson–Hilferty; within 0.1 %
// of the exact value for k >= 64, checked below). 3.0902 is the upper 0.001 quantile of N(0, 1).
double chi2_critical_p001(int k) {
  const double a = 2.0 / (9.0 * k);
  return k * std::pow(1 - a + 3.0902 * std::sqrt(a), 3);
}

// Chi-square of the byte values of the serialized vector against uniform (255 dof).
double byte_chi2(const ShareVector& v) {
  std::array<double, 256> counts{};
  const auto bytes = v.to_bytes();
  for (uint8_t b : bytes) counts[b] += 1;
  const double expected = bytes.size() / 256.0;
  double chi2 = 0;
  for (double c : counts) chi2 += (c - expected) * (c - expected) / expected;
  return chi2;
}

// Sum over the l bit positions of ((ones - zeros)^2 / N): chi-square with l dof if every bit
// is a fair coin.
double bit_chi2(const ShareVector& v) {
  double chi2 = 0;
  const double n = static_cast<double>(v.size());
  for (int bit = 0; bit < v.ring_bits(); ++bit) {
    double ones = 0;
    for (u128 x : v.values()) ones += static_cast<double>((x >> bit) & 1);
    chi2 += (2 * ones - n) * (2 * ones - n) / n;
  }
  return chi2;
}

// True if `v` passes both tests at p = 0.001.
bool looks_uniform(const ShareVector& v) {
  return byte_chi2(v) < chi2_critical_p001(255) && bit_chi2(v) < chi2_critical_p001(v.ring_bits());
}

ShareVector random_vector(int bits, size_t n, Prg& prg) {
  ShareVector v(bits, n);
  for (size_t i = 0; i < n; ++i) v.set(i, (u128{prg.next_u64()} << 64) | prg.next_u64());
  return v;
}

// x = x_1 + ... + x_n: n - 1 random shares and the difference.
std::vector<ShareVector> share_n(const ShareVector& x, int n, Prg& prg) {
  std::vector<ShareVector> shares;
  for (int i = 0; i < n - 1; ++i) shares.push_back(random_vector(x.ring_bits(), x.size(), prg));
  ShareVector rest = x;
  for (const ShareVector& s : shares) {
    for (size_t i = 0; i < x.size(); ++i) rest.set(i, rest.get(i) - s.get(i));
  }
  shares.push_back(std::move(rest));
  return shares;
}

bool equal(const ShareVector& a, const ShareVector& b) {
  if (a.ring_bits() != b.ring_bits() || a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a.get(i) != b.get(i)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("share prg: AES-128-CTR known answer and fresh keys") {
  // head -c 32 /dev/zero | openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f
  //   -iv 00000000000000000000000000000000 | xxd -p
  const std::array<uint8_t, 32> expected{0xc6, 0xa1, 0x3b, 0x37, 0x87, 0x8f, 0x5b, 0x82,
                                         0x6f, 0x4f, 0x81, 0x62, 0xa1, 0xc8, 0xd8, 0x79,
                                         0x73, 0x46, 0x13, 0x95, 0x95, 0xc0, 0xb4, 0x1e,
                                         0x49, 0x7b, 0xbd, 0xe3, 0x65, 0xf4, 0x2d, 0x0a};
  std::array<uint8_t, 16> key;
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
  Prg prg(key);
  std::array<uint8_t, 32> out{};
  prg.fill({out.data(), 5});  // the stream continues across calls of any length
  prg.fill({out.data() + 5, 27});
  CHECK(out == expected);

  Prg a, b;
  std::array<uint8_t, 32> ra{}, rb{};
  a.fill(ra);
  b.fill(rb);
  CHECK(ra != rb);
  CHECK(ra != std::array<uint8_t, 32>{});
}

TEST_CASE("share split and sum give back the vector for l = 64 and 128, n = 2..5 parties") {
  Prg prg;
  for (int bits : {64, 128}) {
    const size_t len = 257;
    ShareVector x = random_vector(bits, len, prg);
    // Edge values: 0, 1, -1, the sign bit, the largest positive.
    x.set(0, 0);
    x.set(1, 1);
    x.set(2, static_cast<u128>(i128{-1}));
    x.set(3, u128{1} << (bits - 1));
    x.set(4, (u128{1} << (bits - 1)) - 1);
    for (int n = 2; n <= 5; ++n) {
      CAPTURE(bits);
      CAPTURE(n);
      // The privacy router (docs/protocol.md): each of the n holders splits its share for RS-A and
      // RS-B; each RS sums what it received; y1 + y2 = x.
      std::vector<ShareVector> shares = share_n(x, n, prg);
      CHECK(equal(sum(shares), x));
      std::vector<ShareVector> to_a, to_b;
      for (const ShareVector& s : shares) {
        auto [a, b] = split(s, prg);
        CHECK_FALSE(equal(a, s));
        CHECK(equal(sum(std::vector<ShareVector>{a, b}), s));
        to_a.push_back(std::move(a));
        to_b.push_back(std::move(b));
      }
      ShareVector y1 = sum(to_a), y2 = sum(to_b);
      CHECK(equal(sum(std::vector<ShareVector>{y1, y2}), x));
    }
  }
}

TEST_CASE("share vector bytes: little-endian round trip and length checks") {
  std::vector<uint8_t> bytes(3 * 8);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i + 1);
  ShareVector v = ShareVector::from_bytes(64, bytes);
  REQUIRE(v.size() == 3);
  CHECK(v.get(0) == 0x0807060504030201u);
  CHECK(v.to_bytes() == bytes);
  ShareVector w = ShareVector::from_bytes(128, std::span(bytes).first(16));
  REQUIRE(w.size() == 1);
  CHECK(w.get(0) == ((u128{0x100f0e0d0c0b0a09u} << 64) | 0x0807060504030201u));
  CHECK(w.to_bytes() == std::vector<uint8_t>(bytes.begin(), bytes.begin() + 16));

  CHECK_THROWS_WITH_AS(ShareVector::from_bytes(128, bytes),
                       "share vector: 24 bytes is not a whole number of 16-byte elements",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ShareVector::from_bytes(64, std::span(bytes).first(13)),
                       "share vector: 13 bytes is not a whole number of 8-byte elements",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ShareVector(32, 4),
                       "share vector: ring must be Z_2^64 or Z_2^128, got 32 bits",
                       std::invalid_argument);
  std::vector<uint8_t> small(10);
  CHECK_THROWS_WITH_AS(v.write(small), "share vector: output buffer has 10 bytes, need 24",
                       std::invalid_argument);
  CHECK(ShareVector::from_bytes(64, {}).size() == 0);

  // Values are kept mod 2^l.
  ShareVector r(64, 1);
  r.set(0, (u128{5} << 64) | 7);
  CHECK(r.get(0) == 7);

  // Mismatched parts cannot be summed.
  CHECK_THROWS_WITH_AS(sum(std::vector<ShareVector>{ShareVector(64, 2), ShareVector(64, 3)}),
                       "share vector: part 1 is 3 elements over Z_2^64, part 0 is 2 over Z_2^64",
                       std::invalid_argument);
  CHECK_THROWS_AS(sum(std::vector<ShareVector>{ShareVector(64, 2), ShareVector(128, 2)}),
                  std::invalid_argument);
  CHECK_THROWS_AS(sum(std::vector<ShareVector>{}), std::invalid_argument);
}

TEST_CASE("share signed read is two's complement in l bits") {
  ShareVector v64(64, 5);
  v64.set(0, static_cast<u128>(i128{-1}));
  v64.set(1, u128{1} << 63);
  v64.set(2, (u128{1} << 63) - 1);
  v64.set(3, static_cast<u128>(i128{-123456789}));
  v64.set(4, 42);
  CHECK(v64.get(0) == std::numeric_limits<uint64_t>::max());
  CHECK(v64.to_signed(0) == -1);
  CHECK(v64.to_signed(1) == std::numeric_limits<int64_t>::min());
  CHECK(v64.to_signed(2) == std::numeric_limits<int64_t>::max());
  CHECK(v64.to_signed(3) == -123456789);
  CHECK(v64.to_signed(4) == 42);

  ShareVector v128(128, 4);
  v128.set(0, static_cast<u128>(i128{-1}));
  v128.set(1, u128{1} << 127);
  v128.set(2, static_cast<u128>(std::numeric_limits<i128>::max()));
  v128.set(3, u128{1} << 64);  // positive in Z_2^128, would be 0 in Z_2^64
  CHECK(v128.to_signed(0) == -1);
  CHECK(v128.to_signed(1) == std::numeric_limits<i128>::min());
  CHECK(v128.to_signed(2) == std::numeric_limits<i128>::max());
  CHECK(v128.to_signed(3) == (i128{1} << 64));

  // A negative secret split and summed reads back negative.
  Prg prg;
  auto [a, b] = split(v64, prg);
  ShareVector back = sum(std::vector<ShareVector>{a, b});
  CHECK(back.to_signed(3) == -123456789);
}

TEST_CASE("share parts of a constant vector look uniform (chi-square, fixed seed, p = 0.001)") {
  // Deterministic: a fixed seed makes the statistics the same on every run, so the test
  // cannot be flaky; the thresholds are the p = 0.001 quantiles.
  Prg prg(kSeed);
  const size_t n = 8192;
  for (int bits : {64, 128}) {
    CAPTURE(bits);
    ShareVector x(bits, n);
    for (size_t i = 0; i < n; ++i)
      x.set(i, (u128{0x0123456789abcdefu} << 64) | 0xfedcba9876543210u);
    auto [a, b] = split(x, prg);
    CHECK(byte_chi2(a) < chi2_critical_p001(255));
    CHECK(bit_chi2(a) < chi2_critical_p001(bits));
    CHECK(byte_chi2(b) < chi2_critical_p001(255));
    CHECK(bit_chi2(b) < chi2_critical_p001(bits));
    CHECK(looks_uniform(a));
    CHECK(looks_uniform(b));

    // Negative controls: the same tests reject the constant input itself, a part whose top
    // bit is stuck at 0, and a part whose low byte is biased towards small values.
    CHECK_FALSE(looks_uniform(x));
    ShareVector top_clear = a;
    for (size_t i = 0; i < n; ++i) top_clear.set(i, top_clear.get(i) & (top_clear.mask() >> 1));
    CHECK(bit_chi2(top_clear) > chi2_critical_p001(bits));
    CHECK(byte_chi2(top_clear) > chi2_critical_p001(255));
    CHECK_FALSE(looks_uniform(top_clear));
    ShareVector low_biased = a;
    for (size_t i = 0; i < n; i += 4) low_biased.set(i, low_biased.get(i) & ~u128{0xf0});
    CHECK(byte_chi2(low_biased) > chi2_critical_p001(255));
    CHECK_FALSE(looks_uniform(low_biased));
  }
  // Exact quantiles (regularized incomplete gamma): 104.716, 183.186, 330.520.
  CHECK(chi2_critical_p001(64) == doctest::Approx(104.716).epsilon(0.002));
  CHECK(chi2_critical_p001(128) == doctest::Approx(183.186).epsilon(0.002));
  CHECK(chi2_critical_p001(255) == doctest::Approx(330.520).epsilon(0.002));
}
