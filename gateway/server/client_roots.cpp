#include "gateway/server/client_roots.h"

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <optional>
#include <stdexcept>

#include "common/node_uri.h"
#include "trust/sm2_verify.h"

namespace ptp {
namespace {

X509Ptr parse_pem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return X509Ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

std::vector<X509Ptr> read_pem_file(const std::string& path) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), BIO_free);
  if (!bio) throw std::runtime_error("listen.tls.client_ca " + path + ": cannot be read");
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  if (out.empty())
    throw std::runtime_error("listen.tls.client_ca " + path + ": no PEM certificate in it");
  return out;
}

X509* leaf_of(STACK_OF(X509) * chain) {
  return chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : nullptr;
}
X509* anchor_of(STACK_OF(X509) * chain) {
  return chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, sk_X509_num(chain) - 1) : nullptr;
}

}  // namespace

ClientRoots::ClientRoots(const Config& cfg, const std::vector<X509Ptr>& client_ca)
    : trusted_(sk_X509_new_null()) {
  for (const PeerConfig& p : cfg.peers) {
    if (p.root_pem.empty()) continue;
    if (X509Ptr root = parse_pem(p.root_pem)) pinned_.push_back({std::move(root), p.node_id});
  }
  auto add = [&](X509* x) {
    if (trusted_ && X509_up_ref(x) == 1 && !sk_X509_push(trusted_, x)) X509_free(x);
  };
  for (const Pinned& p : pinned_) add(p.root.get());
  for (const X509Ptr& c : client_ca) add(c.get());
}

ClientRoots::~ClientRoots() { sk_X509_pop_free(trusted_, X509_free); }

bool ClientRoots::acceptable(STACK_OF(X509) * chain) const {
  X509* anchor = anchor_of(chain);
  bool pinned_anchor = false;
  std::optional<std::string> named;
  for (const Pinned& p : pinned_) {
    if (X509_cmp(p.root.get(), anchor) != 0) continue;
    pinned_anchor = true;
    if (!named) named = certificate_node_id(leaf_of(chain));
    if (named && *named == p.node_id) return true;
  }
  return !pinned_anchor;  // a listen.tls.client_ca chain
}

std::string ClientRoots::hop_node_id(STACK_OF(X509) * chain) const {
  X509* anchor = anchor_of(chain);
  if (!anchor) return {};
  std::optional<std::string> named;
  for (const Pinned& p : pinned_) {
    if (X509_cmp(p.root.get(), anchor) != 0) continue;
    if (!named) named = certificate_node_id(leaf_of(chain));
    if (named && *named == p.node_id) return *named;
  }
  return {};
}

ClientVerifier::ClientVerifier(const Config& cfg)
    : fallback_(std::make_shared<const Config>(cfg)),
      require_(cfg.tls && !cfg.tls->client_ca_file.empty()) {
  if (require_) client_ca_ = read_pem_file(cfg.tls->client_ca_file);
}

void ClientVerifier::install(SSL_CTX* ctx) {
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (require_ ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                     nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, &ClientVerifier::verify, this);
  // A resumed session skips verification; the roots may have changed since.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx, 0);
}

std::shared_ptr<const ClientRoots> ClientVerifier::roots() const {
  ConfigPtr cfg = store_ ? store_->current() : fallback_;
  std::lock_guard lock(mu_);
  if (cfg != cached_for_ || !cached_) {
    cached_ = std::make_shared<const ClientRoots>(*cfg, client_ca_);
    cached_for_ = std::move(cfg);
  }
  return cached_;
}

int ClientVerifier::verify(X509_STORE_CTX* sc, void* arg) {
  auto roots = static_cast<const ClientVerifier*>(arg)->roots();
  X509_STORE_CTX_set0_trusted_stack(sc, roots->trusted());
  // A leaf an SM2 node root issued is checked with the SM2 ID (crypto: gm identities).
  if (!set_sm2_ids_for_verify(sc, roots->trusted()) || X509_verify_cert(sc) != 1) return 0;
  if (!roots->acceptable(X509_STORE_CTX_get0_chain(sc))) {
    X509_STORE_CTX_set_error(sc, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return 1;
}

std::string ClientVerifier::hop_node_id(SSL* ssl) const {
  if (!SSL_get0_peer_certificate(ssl)) return {};
  return roots()->hop_node_id(SSL_get0_verified_chain(ssl));
}

}  // namespace ptp
