// How each KeyAlgorithm signs a message (docs/identity.md), in one place for node keys,
// public keys and certificates: ECDSA P-256 over SHA-256; Ed25519 over the whole message
// (no digest); SM2 over SM3 with the distinguishing ID "1234567812345678".
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string_view>

#include "trust/key_algorithm.h"
#include "trust/openssl_ptr.h"

namespace ptp {

// The SM2 distinguishing ID every signature here uses (GB/T 35276's default).
inline constexpr std::string_view kSm2DistinguishingId = "1234567812345678";

// Sets `md` up to sign (EVP_DigestSign*) or verify (EVP_DigestVerify*) with `key` of
// algorithm `alg`. False when OpenSSL refuses.
bool init_digest_sign(EVP_MD_CTX* md, EVP_PKEY* key, KeyAlgorithm alg);
bool init_digest_verify(EVP_MD_CTX* md, EVP_PKEY* key, KeyAlgorithm alg);

// A signing or verifying context set up once for a key and copied for each signature: with
// OpenSSL 3.0 setting one up fetches the algorithms by name again (about 5 us of a 24 us
// P-256 signature, 7 of a 72 us check: docs/benchmarks.md "The floor"), copying one does
// not. Copying only reads the prepared context, so the key objects share it between their
// copies and threads.
class PreparedSignature {
 public:
  enum class Use { kSign, kVerify };
  // nullptr when OpenSSL refuses (the caller then sets a context up each time).
  static std::shared_ptr<const PreparedSignature> make(EVP_PKEY* key, KeyAlgorithm alg, Use use);
  // A context of its own, ready for EVP_DigestSign or EVP_DigestVerify; nullptr on failure.
  trust::EvpMdCtxPtr copy() const;
  // The same from `prepared`, or, without one, set up now for `use` with `key`.
  static trust::EvpMdCtxPtr context(const PreparedSignature* prepared, EVP_PKEY* key,
                                    KeyAlgorithm alg, Use use);

 private:
  explicit PreparedSignature(trust::EvpMdCtxPtr md) : md_(std::move(md)) {}
  trust::EvpMdCtxPtr md_;
};

}  // namespace ptp
