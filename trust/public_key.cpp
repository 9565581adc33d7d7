#include "trust/public_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "trust/signature_context.h"

namespace ptp {

PublicKey::PublicKey(trust::EvpPkeyPtr key, KeyAlgorithm alg)
    : key_(std::move(key)),
      alg_(alg),
      verifier_(PreparedSignature::make(key_.get(), alg, PreparedSignature::Use::kVerify)) {}

std::optional<PublicKey> PublicKey::from_key(trust::EvpPkeyPtr key, std::string& error) {
  if (!key) {
    error = "no public key";
    return std::nullopt;
  }
  auto alg = key_algorithm_of(key.get());
  if (!alg) {
    error = std::string("unsupported key type ") + EVP_PKEY_get0_type_name(key.get()) +
            " (expected ecdsa-p256, ed25519 or sm2)";
    return std::nullopt;
  }
  return PublicKey(std::move(key), *alg);
}

std::optional<PublicKey> PublicKey::from_pem(std::string_view pem, std::string& error) {
  trust::BioPtr bio = trust::memory_bio(pem);
  if (!bio) {
    error = "cannot read the PEM text (too large, or out of memory)";
    return std::nullopt;
  }
  trust::EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    error = "not a PEM public key: " + trust::openssl_error_text();
    return std::nullopt;
  }
  return from_key(std::move(key), error);
}

std::optional<PublicKey> PublicKey::from_certificate(X509* cert, std::string& error) {
  if (!cert) {
    error = "no certificate";
    return std::nullopt;
  }
  trust::EvpPkeyPtr key(X509_get_pubkey(cert));  // a new reference
  if (!key) {
    error = "cannot read the certificate's public key: " + trust::openssl_error_text();
    return std::nullopt;
  }
  return from_key(std::move(key), error);
}

PublicKey::PublicKey(const PublicKey& other)
    : key_(other.key_.get()), alg_(other.alg_), verifier_(other.verifier_) {
  EVP_PKEY_up_ref(key_.get());
}

PublicKey& PublicKey::operator=(const PublicKey& other) {
  if (this != &other) {
    EVP_PKEY_up_ref(other.key_.get());
    key_.reset(other.key_.get());
    alg_ = other.alg_;
    verifier_ = other.verifier_;
  }
  return *this;
}

bool PublicKey::verify(std::string_view data, std::string_view signature) const {
  if (!key_) return false;
  trust::EvpMdCtxPtr md = PreparedSignature::context(verifier_.get(), key_.get(), alg_,
                                                     PreparedSignature::Use::kVerify);
  if (!md) return false;
  const bool ok =
      EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1;
  // A refused signature leaves an error on the thread's queue; it is not this caller's.
  if (!ok) ERR_clear_error();
  return ok;
}

std::string PublicKey::pem() const {
  trust::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !key_ || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string PublicKey::der() const {
  if (!key_) return {};
  int n = i2d_PUBKEY(key_.get(), nullptr);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_PUBKEY(key_.get(), &p) != n) return {};
  return out;
}

}  // namespace ptp
