// Paillier (router/he) on one thread: DJN (single and batched) vs textbook encryption, CRT
// decryption, additions, and the router's "two encryptions per element" rate (batched). Run by
// hand; command and results in docs/benchmarks.md ("Paillier (router/he)"). Rates are per second of
// this thread's CPU time.
//   ptp-bench-he_bench [--seconds N] [--bits B] [--windows]
// --windows also times the fixed-base table for window widths 4..8 (build time, memory,
// h_s^r rate), a plain table lookup next to the constant-time scan the library uses, and the
// single and batched encryption rates.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <string>
#include <vector>

#include "common/version.h"
#include "router/he/bignum.h"
#include "router/he/paillier.h"
#include "router/he/paillier_keys.h"

using namespace ptp::he;
using Clock = std::chrono::steady_clock;

namespace {

// CPU time of this thread: on a shared machine it does not count time spent waiting for a
// core (cache contention from other processes still shows).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Calls op() until `seconds` of thread CPU time have passed (at least 4 calls); returns calls
// per CPU second.
template <typename Op>
double rate(double seconds, Op&& op) {
  const double start = thread_cpu_seconds();
  uint64_t calls = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 4; ++i) op();
    calls += 4;
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < seconds);
  return calls / elapsed;
}

double secs_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// 64-bit share-like plaintexts (the router encrypts ring elements).
Bn random_plaintext() {
  Bn m = bn_new();
  bn_check(BN_rand(m.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
  return m;
}

// Plaintexts per encrypt_batch call in the batched measurements: a few lane groups, as a
// worker of the router's pool gets them (router/rs/parallel_encrypt.h).
constexpr size_t kBatch = 4 * FixedBaseTable::kBatchLanes;

struct Plaintexts {
  std::vector<Bn> values;
  std::vector<const BIGNUM*> ptrs;
  explicit Plaintexts(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      values.push_back(random_plaintext());
      ptrs.push_back(values.back().get());
    }
  }
};

// Encryptions per second through encrypt_batch (kBatch plaintexts per call).
double batch_rate(double seconds, const PublicKey& pk, const Plaintexts& ms) {
  return ms.ptrs.size() * rate(seconds, [&] { encrypt_batch(pk, ms.ptrs, EncryptMode::kDjn); });
}

// h_s^r with a plain (data-dependent) table lookup: the variant the library does not use,
// timed only to show what the constant-time scan costs.
struct DirectTable {
  std::vector<std::vector<Bn>> rows;  // rows[i][d] = h_s^(d 2^(w i)), Montgomery form
  int w;
  DirectTable(const PublicKey& pk, int window) : w(window) {
    BnCtx ctx = bn_ctx_new();
    Bn g = bn_new();
    bn_check(BN_to_montgomery(g.get(), pk.hs(), pk.mont_n2(), ctx.get()), "BN_to_montgomery");
    const int windows = (pk.random_bits() + w - 1) / w;
    for (int i = 0; i < windows; ++i) {
      std::vector<Bn> row;
      row.push_back(nullptr);  // digit 0: skipped
      row.push_back(bn_dup(g.get()));
      for (int d = 2; d < (1 << w); ++d) {
        Bn next = bn_new();
        bn_check(
            BN_mod_mul_montgomery(next.get(), row.back().get(), g.get(), pk.mont_n2(), ctx.get()),
            "BN_mod_mul_montgomery");
        row.push_back(std::move(next));
      }
      Bn gw = bn_new();
      bn_check(BN_mod_mul_montgomery(gw.get(), row.back().get(), g.get(), pk.mont_n2(), ctx.get()),
               "BN_mod_mul_montgomery");
      g = std::move(gw);
      rows.push_back(std::move(row));
    }
  }
  void pow_mont(const PublicKey& pk, BIGNUM* r, const BIGNUM* e, BN_CTX* ctx) const {
    bool first = true;
    for (size_t i = 0; i < rows.size(); ++i) {
      int d = 0;
      for (int b = 0; b < w; ++b) d |= BN_is_bit_set(e, static_cast<int>(i) * w + b) << b;
      if (d == 0) continue;
      if (first) {
        bn_check(BN_copy(r, rows[i][d].get()) != nullptr, "BN_copy");
        first = false;
      } else {
        bn_check(BN_mod_mul_montgomery(r, r, rows[i][d].get(), pk.mont_n2(), ctx),
                 "BN_mod_mul_montgomery");
      }
    }
  }
};

void sweep_windows(const PrivateKey& sk, double seconds) {
  std::printf("\nfixed-base table for h_s^r, r of %d bits (one thread):\n",
              sk.public_key().random_bits());
  std::printf("  %-3s %10s %10s %14s %16s %14s %14s\n", "w", "build s", "MiB", "ct pow/s",
              "direct pow/s", "encrypt/s", "batch enc/s");
  const Plaintexts ms(kBatch);
  BnCtx ctx = bn_ctx_new();
  Bn r = bn_new(), out = bn_new();
  for (int w = 4; w <= 8; ++w) {
    auto t0 = Clock::now();
    PublicKey pk(sk.public_key().n(), sk.public_key().hs(), sk.public_key().modulus_bits(), w);
    const double build = secs_since(t0);
    const double ct = rate(seconds, [&] {
      bn_check(BN_rand(r.get(), pk.random_bits(), BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
      pk.hs_table().pow_mont(out.get(), r.get(), ctx.get());
    });
    DirectTable direct(pk, w);
    const double plain = rate(seconds, [&] {
      bn_check(BN_rand(r.get(), pk.random_bits(), BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
      direct.pow_mont(pk, out.get(), r.get(), ctx.get());
    });
    Bn m = random_plaintext();
    const double enc = rate(seconds, [&] { encrypt(pk, m.get(), EncryptMode::kDjn); });
    const double batch = batch_rate(seconds, pk, ms);
    std::printf("  %-3d %10.3f %10.1f %14.0f %16.0f %14.0f %14.0f\n", w, build,
                pk.hs_table().memory_bytes() / 1048576.0, ct, plain, enc, batch);
  }
}

void run(double seconds, int bits, bool windows);

}  // namespace

int main(int argc, char** argv) {
  if (ptp::print_version_if_asked(argc, argv, "ptp-bench-he_bench")) return 0;
  double seconds = 3;
  int bits = 2048;
  bool windows = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string("0"); };
    if (a == "--seconds") {
      seconds = std::stod(next());
    } else if (a == "--bits") {
      bits = std::stoi(next());
    } else if (a == "--windows") {
      windows = true;
    } else {
      std::fprintf(stderr, "usage: %s [--seconds N] [--bits B] [--windows]\n", argv[0]);
      return 2;
    }
  }
  if (seconds <= 0) {
    std::fprintf(stderr, "--seconds must be > 0\n");
    return 2;
  }

  try {
    run(seconds, bits, windows);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "he_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

namespace {

void run(double seconds, int bits, bool windows) {
  auto t0 = Clock::now();
  PrivateKey sk = generate_private_key(bits, std::min(bits, kMinModulusBits));
  const double keygen = secs_since(t0);
  const PublicKey& pk = sk.public_key();
  std::printf(
      "Paillier |n| = %d bits, DJN r of %d bits, table window %d (%.1f MiB), one "
      "thread, %g s per measurement\n",
      pk.modulus_bits(), pk.random_bits(), pk.hs_table().window(),
      pk.hs_table().memory_bytes() / 1048576.0, seconds);
  std::printf("%-44s %12.3f s\n", "key generation (incl. h_s and table)", keygen);
  t0 = Clock::now();
  PublicKey from_n = PublicKey::from_modulus(pk.n(), bits);
  std::printf("%-44s %12.3f s\n", "n-only public key (derive h_s, table)", secs_since(t0));

  Bn m = random_plaintext();
  const Plaintexts ms(kBatch);
  const double djn = rate(seconds, [&] { encrypt(pk, m.get(), EncryptMode::kDjn); });
  const double djn_batch = batch_rate(seconds, pk, ms);
  const double textbook = rate(seconds, [&] { encrypt(pk, m.get(), EncryptMode::kTextbook); });
  Ciphertext c = encrypt(pk, m.get());
  const double decrypts = rate(seconds, [&] { decrypt(sk, c); });
  const double decrypts_textbook = rate(seconds, [&] { decrypt_textbook(sk, c); });
  Ciphertext acc = encrypt(pk, int64_t{0});
  const double adds = rate(seconds, [&] { acc = add(pk, acc, c); });
  const double rerand = rate(seconds, [&] { rerandomize(pk, c); });
  const std::vector<Ciphertext> cs(kBatch, c);
  const double rerand_batch = kBatch * rate(seconds, [&] { rerandomize_batch(pk, cs); });
  // The router's conversion: RS-A encrypts y1, RS-B encrypts y2 (here one after the other on
  // one thread), both batched as the RS does; the addition [y1] + [y2] that follows is left
  // out.
  const Plaintexts y1(kBatch), y2(kBatch);
  const double elements = kBatch * rate(seconds, [&] {
                            encrypt_batch(pk, y1.ptrs);
                            encrypt_batch(pk, y2.ptrs);
                          });

  std::printf("%-44s %12.0f /s  (%.3f ms each)\n", "encrypt, DJN fixed-base (fast)", djn,
              1e3 / djn);
  std::printf("%-44s %12.0f /s  (%.3f ms each)\n", "encrypt, DJN fixed-base, batched (router)",
              djn_batch, 1e3 / djn_batch);
  std::printf("%-44s %12.0f /s  (%.3f ms each)\n", "encrypt, textbook r^n", textbook,
              1e3 / textbook);
  std::printf("%-44s %12.1f x\n", "fast / textbook (single)", djn / textbook);
  std::printf("%-44s %12.1f x\n", "fast / textbook (batched, goal >= 10)", djn_batch / textbook);
  std::printf("%-44s %12.0f /s  (%.3f ms each)\n", "decrypt, CRT", decrypts, 1e3 / decrypts);
  std::printf("%-44s %12.0f /s  (%.3f ms each)\n", "decrypt, textbook (no CRT)", decrypts_textbook,
              1e3 / decrypts_textbook);
  std::printf("%-44s %12.0f /s\n", "add (ciphertext x ciphertext)", adds);
  std::printf("%-44s %12.0f /s\n", "rerandomize, DJN", rerand);
  std::printf("%-44s %12.0f /s\n", "rerandomize, DJN, batched", rerand_batch);
  std::printf("%-44s %12.0f elements/s\n", "encrypt-only (batched), 2 encryptions/element",
              elements);

  if (windows) sweep_windows(sk, seconds);
}

}  // namespace
