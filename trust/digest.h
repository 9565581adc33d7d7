// The message digests of the two crypto profiles (docs/evidence.md): SHA-256 (the default,
// international profile) and SM3 (`crypto: gm`). Both are 32 bytes. Used for body digests,
// Merkle trees, the evidence chain and permit ids; one Hasher per thread (not thread-safe).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ptp {

enum class DigestAlgorithm { kSha256, kSm3 };

// "sha256" | "sm3".
std::string_view digest_algorithm_name(DigestAlgorithm alg);
std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view name);

using Digest32 = std::array<unsigned char, 32>;

// An incremental digest: update() any number of times, then finish(), which also resets it
// for the next message. The OpenSSL digest is fetched once per object.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm alg = DigestAlgorithm::kSha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  DigestAlgorithm algorithm() const { return alg_; }
  void update(std::string_view data);
  Digest32 finish();

 private:
  struct State;
  DigestAlgorithm alg_;
  std::unique_ptr<State> state_;
};

// One-shot digest of `data`.
Digest32 digest(DigestAlgorithm alg, std::string_view data);
// Lowercase hex (64 characters) of a digest, and back (nullopt unless exactly 64 hex chars).
std::string digest_hex(const Digest32& d);
std::optional<Digest32> digest_from_hex(std::string_view hex);

}  // namespace ptp
