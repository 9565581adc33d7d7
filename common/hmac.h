// HMAC with OpenSSL's implementation fetched once per object: the one-shot HMAC()/EVP_Q_mac
// fetch the MAC and the digest on every call, which showed as ~9 % of an edge gateway's CPU
// (docs/benchmarks.md). The digest is a plain parameter: SHA-256 (the international crypto
// profile) or SM3 (`crypto: gm`, docs/security.md "Crypto profiles"). Not thread-safe: one
// per thread.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ptp {

// The digest of an HMAC; both give 32-byte MACs.
enum class MacDigest { kSha256, kSm3 };

// "HMAC-SHA256" | "HMAC-SM3".
std::string_view mac_digest_name(MacDigest d);

class Hmac {
 public:
  using Digest = std::array<unsigned char, 32>;

  explicit Hmac(MacDigest digest = MacDigest::kSha256);
  ~Hmac();
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  MacDigest digest() const { return digest_; }
  // Switches the digest (fetched here, once); the next compute() keys the context again.
  void set_digest(MacDigest digest);

  // False only if OpenSSL fails (no provider for the digest); `out` is then unspecified.
  bool compute(std::string_view key, std::string_view msg, Digest& out);
  // The MAC of the concatenation of `parts` (no copy into one message first).
  bool compute(std::string_view key, std::span<const std::string_view> parts, Digest& out);

 private:
  struct MacFree {
    void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
  };
  struct CtxFree {
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
  };
  void forget_key();
  std::unique_ptr<EVP_MAC, MacFree> mac_;
  std::unique_ptr<EVP_MAC_CTX, CtxFree> ctx_;
  MacDigest digest_;
  // The key the context holds: the same key again (the common case, one peer) only
  // re-initialises the context instead of re-keying it.
  std::string key_;
  bool keyed_ = false;
};

}  // namespace ptp
