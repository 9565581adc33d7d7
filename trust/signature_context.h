// How each KeyAlgorithm signs a message (docs/identity.md), in one place for node keys,
// public keys and certificates: ECDSA P-256 over SHA-256; Ed25519 over the whole message
// (no digest); SM2 over SM3 with the distinguishing ID "1234567812345678".
#pragma once

#include <openssl/evp.h>

#include <string_view>

#include "trust/key_algorithm.h"

namespace ptp {

// The SM2 distinguishing ID every signature here uses (GB/T 35276's default).
inline constexpr std::string_view kSm2DistinguishingId = "1234567812345678";

// Sets `md` up to sign (EVP_DigestSign*) or verify (EVP_DigestVerify*) with `key` of
// algorithm `alg`. False when OpenSSL refuses.
bool init_digest_sign(EVP_MD_CTX* md, EVP_PKEY* key, KeyAlgorithm alg);
bool init_digest_verify(EVP_MD_CTX* md, EVP_PKEY* key, KeyAlgorithm alg);

}  // namespace ptp
