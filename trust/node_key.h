// A node's private key (docs/identity.md): node.key of its identity directory, PKCS#8 PEM,
// mode 0600, created once and never overwritten; it never leaves the node. It signs the
// node's root certificate, the tokens of auth mode `signature` and the peering bodies.
// Immutable once built: sign() may run on several threads at once; copies share the one
// OpenSSL key. Nothing here prints or logs the key.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "trust/key_algorithm.h"
#include "trust/openssl_ptr.h"
#include "trust/public_key.h"

namespace ptp {

class PreparedSignature;

class NodeKey {
 public:
  // A fresh key.
  static std::optional<NodeKey> generate(KeyAlgorithm alg, std::string& error);
  // Reads an unencrypted PEM private key (PKCS#8, or the traditional EC form). Encrypted
  // keys and other algorithms are refused with a message.
  static std::optional<NodeKey> load_pem_file(const std::string& path, std::string& error);
  static std::optional<NodeKey> from_pem(std::string_view pem, std::string& error);

  NodeKey(const NodeKey& other);
  NodeKey& operator=(const NodeKey& other);
  NodeKey(NodeKey&&) noexcept = default;
  NodeKey& operator=(NodeKey&&) noexcept = default;

  // Writes the key as PKCS#8 PEM to a new file of mode 0600; refuses to overwrite a file.
  bool save_pem_file(const std::string& path, std::string& error) const;

  // The key as PKCS#8 PEM, for writing it to a key file (save_pem_file, or a replacement
  // written atomically). Key material: never log, print or send it.
  std::optional<std::string> private_pem(std::string& error) const;

  KeyAlgorithm algorithm() const { return alg_; }
  // The signature of `data` (see signature_context.h): DER for ECDSA P-256 and SM2, 64 raw
  // bytes for Ed25519. Empty only when OpenSSL fails.
  std::string sign(std::string_view data) const;
  // The public half, as a key object of its own (no private material). Fails only when
  // OpenSSL does.
  std::optional<PublicKey> public_key(std::string& error) const;
  // The OpenSSL key, owned by this object (to sign certificates with).
  EVP_PKEY* get() const { return key_.get(); }

 private:
  NodeKey(trust::EvpPkeyPtr key, KeyAlgorithm alg);
  static std::optional<NodeKey> from_bio(BIO* bio, std::string_view what, std::string& error);
  trust::EvpPkeyPtr key_;
  KeyAlgorithm alg_;
  std::shared_ptr<const PreparedSignature> signer_;  // null: set up at each sign()
};

}  // namespace ptp
