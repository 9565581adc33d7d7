// The algorithms of a node key (docs/identity.md): what a node root certificate and the
// signed tokens of auth mode `signature` are signed with.
//  - kEcdsaP256 (default): ECDSA on P-256 with SHA-256, DER signatures.
//  - kEd25519: Ed25519, 64-byte signatures over the whole message (no prehash).
//  - kSm2: SM2 with SM3 and the default distinguishing ID "1234567812345678".
// The TLS key of a node is always ECDSA P-256, whatever its node key is.
#pragma once

#include <openssl/evp.h>

#include <optional>
#include <string_view>

namespace ptp {

enum class KeyAlgorithm { kEcdsaP256, kEd25519, kSm2 };

// "ecdsa-p256", "ed25519", "sm2".
std::string_view key_algorithm_name(KeyAlgorithm a);
// Accepts exactly the names key_algorithm_name() returns.
bool parse_key_algorithm(std::string_view name, KeyAlgorithm& out);
// The algorithm of a loaded key (private or public); nullopt for any other kind of key
// (RSA, another curve...).
std::optional<KeyAlgorithm> key_algorithm_of(const EVP_PKEY* key);

}  // namespace ptp
