// A node's public key (docs/identity.md): what checks the signatures its node key makes
// (signed tokens, weave/ack bodies, the certificates its root issues). Taken from a pinned
// root certificate or a PEM SubjectPublicKeyInfo. Immutable once built: verify() may run on
// several threads at once; copies share the one OpenSSL key.
#pragma once

#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "trust/key_algorithm.h"
#include "trust/openssl_ptr.h"

namespace ptp {

class PreparedSignature;

class PublicKey {
 public:
  // "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo). Only the algorithms of
  // KeyAlgorithm are accepted.
  static std::optional<PublicKey> from_pem(std::string_view pem, std::string& error);
  // The subject key of `cert`.
  static std::optional<PublicKey> from_certificate(X509* cert, std::string& error);
  // Takes a loaded key; nullopt (with `error`) when its algorithm is none of KeyAlgorithm.
  static std::optional<PublicKey> from_key(trust::EvpPkeyPtr key, std::string& error);

  PublicKey(const PublicKey& other);
  PublicKey& operator=(const PublicKey& other);
  PublicKey(PublicKey&&) noexcept = default;
  PublicKey& operator=(PublicKey&&) noexcept = default;

  KeyAlgorithm algorithm() const { return alg_; }
  // True when `signature` is a valid signature of `data` by the matching private key
  // (NodeKey::sign's format for the algorithm). False for anything else, never throws.
  bool verify(std::string_view data, std::string_view signature) const;
  // The SubjectPublicKeyInfo PEM.
  std::string pem() const;
  // The same DER encoded.
  std::string der() const;
  // The OpenSSL key, owned by this object.
  EVP_PKEY* get() const { return key_.get(); }

 private:
  PublicKey(trust::EvpPkeyPtr key, KeyAlgorithm alg);
  trust::EvpPkeyPtr key_;
  KeyAlgorithm alg_;
  std::shared_ptr<const PreparedSignature> verifier_;  // null: set up at each verify()
};

}  // namespace ptp
