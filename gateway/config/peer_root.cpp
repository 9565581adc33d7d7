#include "gateway/config/peer_root.h"

#include "trust/certificate.h"

namespace ptp {

std::optional<PublicKey> root_public_key(std::string_view pem, std::string& error) {
  std::string why;
  auto cert = Certificate::from_pem(pem, why);
  if (!cert) {
    error = "the pinned root is not a PEM certificate (" + why + ")";
    return std::nullopt;
  }
  auto key = cert->public_key(why);
  if (!key) error = "the key of the pinned root cannot be used: " + why;
  return key;
}

std::string gm_root_problem(std::string_view pem) {
  std::string error;
  auto key = root_public_key(pem, error);
  if (!key) return error;
  if (key->algorithm() == KeyAlgorithm::kSm2) return {};
  return "its key is " + std::string(key_algorithm_name(key->algorithm())) +
         " (crypto: gm takes SM2 node roots only)";
}

}  // namespace ptp
