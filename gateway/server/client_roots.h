// Which client certificates the PTP port accepts, and whose they are (docs/security.md
// "Transport"). A client may present none (this node's containers connect without one).
// One that does must chain to a peer's pinned root (PeerConfig::root_pem) or to
// listen.tls.client_ca; a chain ending at a peer's pinned root must name that peer in its
// leaf. The connection's hop identity is that peer's node id.
//
// The roots are read from the current config snapshot at each handshake (built once per
// snapshot), so a reload or a peer added by the peering handshake applies to the next
// connection without a restart.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/config/config_store.h"

namespace ptp {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The trust anchors of one snapshot.
class ClientRoots {
 public:
  ClientRoots(const Config& cfg, const std::vector<X509Ptr>& client_ca);
  ~ClientRoots();
  ClientRoots(const ClientRoots&) = delete;
  ClientRoots& operator=(const ClientRoots&) = delete;
  STACK_OF(X509) * trusted() const { return trusted_; }
  // For a verified chain (leaf first, anchor last): false when the anchor is a peer's
  // pinned root but the leaf does not name that peer.
  bool acceptable(STACK_OF(X509) * chain) const;
  // The node id of a verified chain whose anchor is that node's pinned root; else "".
  std::string hop_node_id(STACK_OF(X509) * chain) const;

 private:
  struct Pinned {
    X509Ptr root;
    std::string node_id;
  };
  std::vector<Pinned> pinned_;
  STACK_OF(X509) * trusted_;  // owns references to pinned_ roots and the client CAs
};

class ClientVerifier {
 public:
  // Loads listen.tls.client_ca (throws std::runtime_error naming it when unreadable).
  explicit ClientVerifier(const Config& cfg);
  // Snapshots from now on come from the store (else the constructor's config).
  void follow(const ConfigStore& store) { store_ = &store; }
  // Asks clients for a certificate (required when listen.tls.client_ca is set, else
  // optional) and verifies it against the current roots. Connections with a client
  // certificate are not resumed: every handshake is checked against the current roots.
  void install(SSL_CTX* ctx);
  // After the handshake: the hop identity of the connection ("" without one).
  std::string hop_node_id(SSL* ssl) const;

 private:
  static int verify(X509_STORE_CTX* sc, void* arg);
  std::shared_ptr<const ClientRoots> roots() const;

  ConfigPtr fallback_;
  const ConfigStore* store_ = nullptr;
  std::vector<X509Ptr> client_ca_;
  bool require_ = false;
  mutable std::mutex mu_;  // handshakes run on every I/O thread
  mutable ConfigPtr cached_for_;
  mutable std::shared_ptr<const ClientRoots> cached_;
};

}  // namespace ptp
