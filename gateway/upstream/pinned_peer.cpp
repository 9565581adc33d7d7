#include "gateway/upstream/pinned_peer.h"

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

#include "common/node_uri.h"
#include "trust/sm2_verify.h"

namespace ptp {

std::string tls_verify_text(long verify_result) {
  if (verify_result == X509_V_ERR_APPLICATION_VERIFICATION)
    return "the certificate does not name the pinned peer's node (URI SAN urn:ptp:node:<id>)";
  return X509_verify_cert_error_string(verify_result);
}

std::string PinnedPeer::install(SSL_CTX* ctx, const std::string& root_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(root_pem.data(), static_cast<int>(root_pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> root(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!root) return "the pinned root of " + node_id_ + " is not a PEM certificate";
  // A fresh context's store is empty: the pinned root is the only trust anchor.
  if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), root.get()) != 1)
    return "cannot add the pinned root of " + node_id_ + " to the TLS context";
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, &PinnedPeer::verify, this);
  return {};
}

int PinnedPeer::verify(X509_STORE_CTX* sc, void* arg) {
  const auto* self = static_cast<const PinnedPeer*>(arg);
  // The connection asked for its host name (SSL_set1_host); a pinned peer is named by its
  // node URI instead.
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(sc);
  X509_VERIFY_PARAM_set1_host(param, nullptr, 0);
  X509_VERIFY_PARAM_set1_ip(param, nullptr, 0);
  // A leaf an SM2 node root issued is checked with the SM2 ID (crypto: gm identities).
  if (!set_sm2_ids_for_verify(sc, nullptr) || X509_verify_cert(sc) != 1) return 0;
  auto named = certificate_node_id(X509_STORE_CTX_get0_cert(sc));
  if (!named || *named != self->node_id_) {
    X509_STORE_CTX_set_error(sc, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return 1;
}

}  // namespace ptp
