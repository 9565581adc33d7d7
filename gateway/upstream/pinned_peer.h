// Client TLS to a peer whose node root is pinned (peers[i].root_file, or recorded by the
// peering handshake; docs/security.md "Transport"): the peer's chain must end at that root
// and nothing else, and its leaf must name the peer's node id. The host name is not
// checked: the pinned root and the node URI identify the peer, wherever it answers.
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace ptp {

// What a failed verification result means, for error messages: OpenSSL's text, except
// for the pinned-peer check of the leaf's node URI.
std::string tls_verify_text(long verify_result);

class PinnedPeer {
 public:
  explicit PinnedPeer(std::string node_id) : node_id_(std::move(node_id)) {}
  // Makes `ctx` trust `root_pem` only and check, on every handshake, that the leaf names
  // this node id. Empty on success, else why not (the PEM holds no certificate...). The
  // PinnedPeer must outlive ctx.
  std::string install(SSL_CTX* ctx, const std::string& root_pem);
  const std::string& node_id() const { return node_id_; }

 private:
  static int verify(X509_STORE_CTX* sc, void* arg);
  std::string node_id_;
};

}  // namespace ptp
