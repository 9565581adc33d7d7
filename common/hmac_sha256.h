// HMAC-SHA256 with OpenSSL's implementation fetched once per object: the one-shot
// HMAC()/EVP_Q_mac fetch the MAC and the digest on every call, which showed as ~9 % of
// an edge gateway's CPU (docs/benchmarks.md). Not thread-safe: one per thread.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ptp {

class HmacSha256 {
 public:
  using Digest = std::array<unsigned char, 32>;

  HmacSha256();
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  // False only if OpenSSL fails (no SHA-256 provider); `out` is then unspecified.
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
  std::unique_ptr<EVP_MAC, MacFree> mac_;
  std::unique_ptr<EVP_MAC_CTX, CtxFree> ctx_;
  // The key the context holds: the same key again (the common case, one peer) only
  // re-initialises the context instead of re-keying it.
  std::string key_;
  bool keyed_ = false;
};

}  // namespace ptp
