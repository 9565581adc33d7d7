#include "trust/signature_context.h"

#include <openssl/err.h>

namespace ptp {
namespace {

// nullptr for Ed25519, which signs the message itself.
const char* digest_name(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::kEcdsaP256:
      return "SHA256";
    case KeyAlgorithm::kEd25519:
      return nullptr;
    case KeyAlgorithm::kSm2:
      return "SM3";
  }
  return nullptr;
}

// The ID goes in before the first byte of the message: SM2 hashes it (with the public key)
// into the digest's prefix Z.
bool set_sm2_id(EVP_PKEY_CTX* pctx, KeyAlgorithm alg) {
  if (alg != KeyAlgorithm::kSm2) return true;
  return pctx && EVP_PKEY_CTX_set1_id(pctx, kSm2DistinguishingId.data(),
                                      static_cast<int>(kSm2DistinguishingId.size())) > 0;
}

}  // namespace

bool init_digest_sign(EVP_MD_CTX* md, EVP_PKEY* key, KeyAlgorithm alg) {
  EVP_PKEY_CTX* pctx = nullptr;  // owned by `md`
  return EVP_DigestSignInit_ex(md, &pctx, digest_name(alg), nullptr, nullptr, key, nullptr) == 1 &&
         set_sm2_id(pctx, alg);
}

bool init_digest_verify(EVP_MD_CTX* md, EVP_PKEY* key, KeyAlgorithm alg) {
  EVP_PKEY_CTX* pctx = nullptr;  // owned by `md`
  return EVP_DigestVerifyInit_ex(md, &pctx, digest_name(alg), nullptr, nullptr, key, nullptr) ==
             1 &&
         set_sm2_id(pctx, alg);
}

std::shared_ptr<const PreparedSignature> PreparedSignature::make(EVP_PKEY* key, KeyAlgorithm alg,
                                                                 Use use) {
  trust::EvpMdCtxPtr md = context(nullptr, key, alg, use);
  if (!md) return nullptr;
  return std::shared_ptr<const PreparedSignature>(new PreparedSignature(std::move(md)));
}

trust::EvpMdCtxPtr PreparedSignature::context(const PreparedSignature* prepared, EVP_PKEY* key,
                                              KeyAlgorithm alg, Use use) {
  if (prepared) return prepared->copy();
  trust::EvpMdCtxPtr md(EVP_MD_CTX_new());
  const bool ok = md && key &&
                  (use == Use::kSign ? init_digest_sign(md.get(), key, alg)
                                     : init_digest_verify(md.get(), key, alg));
  if (!ok) {
    ERR_clear_error();
    return nullptr;
  }
  return md;
}

trust::EvpMdCtxPtr PreparedSignature::copy() const {
  trust::EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (!md || EVP_MD_CTX_copy_ex(md.get(), md_.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return md;
}

}  // namespace ptp
