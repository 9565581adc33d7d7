#include "trust/key_algorithm.h"

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>

#include <array>

namespace ptp {

std::string_view key_algorithm_name(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::kEcdsaP256:
      return "ecdsa-p256";
    case KeyAlgorithm::kEd25519:
      return "ed25519";
    case KeyAlgorithm::kSm2:
      return "sm2";
  }
  return "unknown";
}

bool parse_key_algorithm(std::string_view name, KeyAlgorithm& out) {
  for (KeyAlgorithm a : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519, KeyAlgorithm::kSm2}) {
    if (key_algorithm_name(a) == name) {
      out = a;
      return true;
    }
  }
  return false;
}

std::optional<KeyAlgorithm> key_algorithm_of(const EVP_PKEY* key) {
  if (!key) return std::nullopt;
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyAlgorithm::kEd25519;
  if (EVP_PKEY_is_a(key, "SM2")) return KeyAlgorithm::kSm2;
  if (!EVP_PKEY_is_a(key, "EC")) return std::nullopt;
  // An EC key: only P-256. (OpenSSL 3 decodes a key on the SM2 curve as "SM2", above; an
  // "EC" key on that curve would be signed with ECDSA instead of SM2, so it is refused.)
  std::array<char, 64> group{};
  size_t len = 0;
  if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                      &len)) {
    return std::nullopt;
  }
  std::string_view name(group.data(), len);
  if (name == SN_X9_62_prime256v1 || name == "P-256") return KeyAlgorithm::kEcdsaP256;
  return std::nullopt;
}

}  // namespace ptp
