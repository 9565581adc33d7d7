#include "trust/node_key.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "trust/secure_file.h"
#include "trust/signature_context.h"

namespace ptp {
namespace {

// Never prompts on a terminal for the passphrase of an encrypted key: none is given.
int no_passphrase(char*, int, int, void*) { return -1; }

trust::EvpPkeyPtr generate_key(KeyAlgorithm alg) {
  EVP_PKEY* key = nullptr;
  switch (alg) {
    case KeyAlgorithm::kEcdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyAlgorithm::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyAlgorithm::kSm2: {
      trust::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr));
      if (ctx && EVP_PKEY_keygen_init(ctx.get()) == 1) EVP_PKEY_generate(ctx.get(), &key);
      break;
    }
  }
  return trust::EvpPkeyPtr(key);
}

}  // namespace

std::optional<NodeKey> NodeKey::generate(KeyAlgorithm alg, std::string& error) {
  trust::EvpPkeyPtr key = generate_key(alg);
  if (!key) {
    error = "cannot generate an " + std::string(key_algorithm_name(alg)) +
            " key: " + trust::openssl_error_text();
    return std::nullopt;
  }
  return NodeKey(std::move(key), alg);
}

std::optional<NodeKey> NodeKey::from_bio(BIO* bio, std::string_view what, std::string& error) {
  trust::EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr));
  if (!key) {
    error =
        std::string(what) + ": not an unencrypted PEM private key: " + trust::openssl_error_text();
    return std::nullopt;
  }
  auto alg = key_algorithm_of(key.get());
  if (!alg) {
    error = std::string(what) + ": unsupported key type " + EVP_PKEY_get0_type_name(key.get()) +
            " (expected ecdsa-p256, ed25519 or sm2)";
    return std::nullopt;
  }
  return NodeKey(std::move(key), *alg);
}

std::optional<NodeKey> NodeKey::load_pem_file(const std::string& path, std::string& error) {
  trust::BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    error = "cannot open " + path + ": " + trust::openssl_error_text();
    return std::nullopt;
  }
  return from_bio(bio.get(), path, error);
}

std::optional<NodeKey> NodeKey::from_pem(std::string_view pem, std::string& error) {
  trust::BioPtr bio = trust::memory_bio(pem);
  if (!bio) {
    error = "cannot read the PEM text (too large, or out of memory)";
    return std::nullopt;
  }
  return from_bio(bio.get(), "private key", error);
}

NodeKey::NodeKey(trust::EvpPkeyPtr key, KeyAlgorithm alg)
    : key_(std::move(key)),
      alg_(alg),
      signer_(PreparedSignature::make(key_.get(), alg, PreparedSignature::Use::kSign)) {}

NodeKey::NodeKey(const NodeKey& other)
    : key_(other.key_.get()), alg_(other.alg_), signer_(other.signer_) {
  EVP_PKEY_up_ref(key_.get());
}

NodeKey& NodeKey::operator=(const NodeKey& other) {
  if (this != &other) {
    EVP_PKEY_up_ref(other.key_.get());
    key_.reset(other.key_.get());
    alg_ = other.alg_;
    signer_ = other.signer_;
  }
  return *this;
}

std::optional<std::string> NodeKey::private_pem(std::string& error) const {
  trust::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || !key_ ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    error = "cannot encode the key: " + trust::openssl_error_text();
    return std::nullopt;
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool NodeKey::save_pem_file(const std::string& path, std::string& error) const {
  auto pem = private_pem(error);
  bool ok = pem && write_new_file(path, *pem, 0600, error);
  if (pem) OPENSSL_cleanse(pem->data(), pem->size());
  return ok;
}

std::string NodeKey::sign(std::string_view data) const {
  if (!key_) return {};
  trust::EvpMdCtxPtr md =
      PreparedSignature::context(signer_.get(), key_.get(), alg_, PreparedSignature::Use::kSign);
  // The key's largest signature (a DER ECDSA or SM2 one is often a byte or two shorter).
  const int max = EVP_PKEY_get_size(key_.get());
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (!md || max <= 0) {
    ERR_clear_error();
    return {};
  }
  size_t len = static_cast<size_t>(max);
  std::string sig(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1) {
    ERR_clear_error();
    return {};
  }
  sig.resize(len);
  return sig;
}

std::optional<PublicKey> NodeKey::public_key(std::string& error) const {
  // A key object of its own holding the public half only: a PublicKey never carries the
  // private key, wherever it is passed on.
  int n = key_ ? i2d_PUBKEY(key_.get(), nullptr) : 0;
  if (n <= 0) {
    error = "cannot encode the public key: " + trust::openssl_error_text();
    return std::nullopt;
  }
  std::string der(static_cast<size_t>(n), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_PUBKEY(key_.get(), &out);
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  return PublicKey::from_key(trust::EvpPkeyPtr(d2i_PUBKEY(nullptr, &in, n)), error);
}

}  // namespace ptp
