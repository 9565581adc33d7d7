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

}  // namespace ptp
