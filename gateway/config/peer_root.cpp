#include "gateway/config/peer_root.h"

#include <openssl/pem.h>

#include "trust/openssl_ptr.h"

namespace ptp {

std::optional<PublicKey> root_public_key(std::string_view pem, std::string& error) {
  trust::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  trust::X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    error = "the pinned root is not a PEM certificate (" + trust::openssl_error_text() + ")";
    return std::nullopt;
  }
  std::string why;
  auto key = PublicKey::from_certificate(cert.get(), why);
  if (!key) error = "the key of the pinned root cannot be used: " + why;
  return key;
}

}  // namespace ptp
