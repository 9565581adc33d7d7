#include "gateway/evidence/root_keys.h"

#include "gateway/config/peer_root.h"

namespace ptp {

void RootKeys::bind(const ConfigPtr& cfg) {
  if (cfg_ == cfg) return;
  entries_.clear();
  cfg_ = cfg;
}

const PublicKey* RootKeys::find(const ConfigPtr& cfg, std::string_view node_id,
                                std::string& error) {
  bind(cfg);
  auto it = entries_.find(node_id);
  if (it == entries_.end()) {
    // Only peers get an entry (bounded by the config, whatever sources requests claim).
    const PeerConfig* peer = find_peer(*cfg, node_id);
    if (!peer) {
      error.clear();
      return nullptr;
    }
    Entry e;
    if (!peer->root_pem.empty()) e.key = root_public_key(peer->root_pem, e.error);
    it = entries_.emplace(std::string(node_id), std::move(e)).first;
  }
  error = it->second.error;
  return it->second.key ? &*it->second.key : nullptr;
}

}  // namespace ptp
