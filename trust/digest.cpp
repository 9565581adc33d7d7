#include "trust/digest.h"

// SHA-256 through the low-level functions: the same code (SHA-NI where the CPU has it) as
// EVP's, without the provider dispatch of EVP_DigestInit/Final per digest, which cost more
// than hashing the 64-100 bytes of a Merkle node or statement (the message evidence takes
// several such digests per message; docs/benchmarks.md). OpenSSL 3 marks them deprecated.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdlib>

namespace ptp {

std::string_view digest_algorithm_name(DigestAlgorithm alg) {
  return alg == DigestAlgorithm::kSm3 ? "sm3" : "sha256";
}

std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view name) {
  if (name == "sha256") return DigestAlgorithm::kSha256;
  if (name == "sm3") return DigestAlgorithm::kSm3;
  return std::nullopt;
}

struct Hasher::State {
  struct MdFree {
    void operator()(EVP_MD* m) const { EVP_MD_free(m); }
  };
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD, MdFree> md;
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx;
  SHA256_CTX sha{};  // SHA-256: used instead of ctx
};

Hasher::Hasher(DigestAlgorithm alg) : alg_(alg), state_(std::make_unique<State>()) {
  if (alg == DigestAlgorithm::kSha256) {
    if (SHA256_Init(&state_->sha) != 1) std::abort();
    return;
  }
  state_->md.reset(EVP_MD_fetch(nullptr, "SM3", nullptr));
  state_->ctx.reset(EVP_MD_CTX_new());
  // Both are in OpenSSL 3's default provider; without them nothing here can work.
  if (!state_->md || !state_->ctx ||
      EVP_DigestInit_ex2(state_->ctx.get(), state_->md.get(), nullptr) != 1)
    std::abort();
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::string_view data) {
  if (alg_ == DigestAlgorithm::kSha256) {
    SHA256_Update(&state_->sha, data.data(), data.size());
    return;
  }
  EVP_DigestUpdate(state_->ctx.get(), data.data(), data.size());
}

Digest32 Hasher::finish() {
  Digest32 out{};
  if (alg_ == DigestAlgorithm::kSha256) {
    SHA256_Final(out.data(), &state_->sha);
    SHA256_Init(&state_->sha);
    return out;
  }
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx.get(), out.data(), &len);
  EVP_DigestInit_ex2(state_->ctx.get(), state_->md.get(), nullptr);
  return out;
}

Digest32 digest(DigestAlgorithm alg, std::string_view data) {
  Digest32 out{};
  if (alg == DigestAlgorithm::kSha256) {  // not SHA256(): OpenSSL 3 fetches by name there
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, data.data(), data.size());
    SHA256_Final(out.data(), &c);
    return out;
  }
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len,
             alg == DigestAlgorithm::kSm3 ? EVP_sm3() : EVP_sha256(), nullptr);
  return out;
}

std::string digest_hex(const Digest32& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < d.size(); ++i) {
    s[2 * i] = kHex[d[i] >> 4];
    s[2 * i + 1] = kHex[d[i] & 15];
  }
  return s;
}

std::optional<Digest32> digest_from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Digest32 d{};
  for (size_t i = 0; i < d.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return d;
}

}  // namespace ptp
