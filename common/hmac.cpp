#include "common/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

namespace ptp {

std::string_view mac_digest_name(MacDigest d) {
  return d == MacDigest::kSm3 ? "HMAC-SM3" : "HMAC-SHA256";
}

Hmac::Hmac(MacDigest digest)
    : mac_(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr)), digest_(digest) {
  if (!mac_) return;
  ctx_.reset(EVP_MAC_CTX_new(mac_.get()));
  set_digest(digest);
}

Hmac::~Hmac() { OPENSSL_cleanse(key_.data(), key_.size()); }

void Hmac::forget_key() {
  OPENSSL_cleanse(key_.data(), key_.size());
  key_.clear();
  keyed_ = false;
}

void Hmac::set_digest(MacDigest digest) {
  digest_ = digest;
  forget_key();
  if (!ctx_) return;
  char name[8];
  const std::string_view n = digest == MacDigest::kSm3 ? "SM3" : "SHA256";
  n.copy(name, n.size());
  name[n.size()] = '\0';
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
                         OSSL_PARAM_construct_end()};
  // The digest is fetched here, once; compute() only re-keys.
  if (!EVP_MAC_CTX_set_params(ctx_.get(), params)) ctx_.reset();
}

bool Hmac::compute(std::string_view key, std::string_view msg, Digest& out) {
  return compute(key, std::span<const std::string_view>(&msg, 1), out);
}

bool Hmac::compute(std::string_view key, std::span<const std::string_view> parts, Digest& out) {
  if (!ctx_) return false;
  // An empty key is still a valid HMAC key; pass a non-null pointer for it.
  static constexpr unsigned char kEmpty = 0;
  const auto* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  // A null key re-initialises with the key already set.
  const bool same_key = keyed_ && key == key_;
  if (!EVP_MAC_init(ctx_.get(), same_key ? nullptr : k, same_key ? 0 : key.size(), nullptr)) {
    keyed_ = false;
    return false;
  }
  if (!same_key) {
    OPENSSL_cleanse(key_.data(), key_.size());
    key_.assign(key);
    keyed_ = true;
  }
  for (std::string_view p : parts)
    if (!EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(p.data()), p.size()))
      return false;
  size_t len = 0;
  return EVP_MAC_final(ctx_.get(), out.data(), &len, out.size()) && len == out.size();
}

}  // namespace ptp
