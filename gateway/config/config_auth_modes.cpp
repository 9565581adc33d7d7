// What each authentication mode in use needs (docs/security.md, "Authentication modes"),
// checked once the peers are known: hmac the keys in auth.node_keys, signature this node's
// identity (its node key signs) and each signature peer's pinned root (it checks the
// peer's tokens).
#include "gateway/config/config_yaml.h"
#include "gateway/config/peer_root.h"

namespace ptp::config_yaml {

bool hmac_in_use(const Config& cfg) {
  if (cfg.auth.mode == AuthMode::kHmac) return true;
  for (const PeerConfig& p : cfg.peers)
    if (p.auth_mode == AuthMode::kHmac) return true;
  return false;
}

void check_auth_modes(const Config& cfg) {
  const AuthConfig& a = cfg.auth;
  if (!a.enabled) return;
  bool signature = a.mode == AuthMode::kSignature;
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    const PeerConfig& p = cfg.peers[i];
    const AuthMode m = p.auth_mode.value_or(a.mode);
    const std::string from = p.auth_mode ? index_path("peers", i) + ".auth" : "auth.mode";
    if (m == AuthMode::kHmac && a.node_keys.empty())
      fail(index_path("peers", i) + ".auth",
           "peer " + quote_value(p.node_id) +
               " uses auth mode hmac, whose tokens are checked with auth.node_keys, but no keys "
               "are configured");
    if (m == AuthMode::kSignature && p.root_pem.empty())
      fail(index_path("peers", i),
           "peer " + quote_value(p.node_id) + " uses auth mode signature (" + from +
               "): its tokens are checked with its pinned root, so root_file is required (or "
               "a peering handshake record)");
    if (m == AuthMode::kSignature) {
      std::string error;
      if (!root_public_key(p.root_pem, error))
        fail(index_path("peers", i) + ".root_file",
             "peer " + quote_value(p.node_id) + ": " + error);
    }
    signature = signature || m == AuthMode::kSignature;
  }
  if (signature && cfg.identity.dir.empty())
    fail("identity.dir",
         "auth mode signature is in use: this node signs its tokens with "
         "identity.dir/node.key, so identity.dir is required");
}

}  // namespace ptp::config_yaml
