#include "gateway/pipeline/identity_binding.h"

#include <string>

namespace ptp {
namespace {

// S's peer entry, or the next hop toward S, has a pinned root.
bool pinned(const Config& cfg, const PeerConfig& s) {
  if (!s.root_pem.empty()) return true;
  const PeerConfig* next = next_hop_for(cfg, s);
  return next && !next->root_pem.empty();
}

bool relays_for(const Config& cfg, std::string_view hop, std::string_view source) {
  const PeerConfig* h = find_peer(cfg, hop);
  if (h && h->relay) return true;
  const PeerConfig* s = find_peer(cfg, source);
  const PeerConfig* next = s ? next_hop_for(cfg, *s) : nullptr;
  return next && next->node_id == hop;
}

}  // namespace

Status check_identity_binding(const Config& cfg, Interface iface, bool queue_interface,
                              std::string_view source, std::string_view hop) {
  if (hop.empty()) {
    if (source.empty() || source == cfg.node_id) return Status::Ok();  // a container of ours
    const PeerConfig* s = find_peer(cfg, source);
    if (s && pinned(cfg, *s))
      return Status::Error(Code::kBadCertSignature,
                           "peer " + std::string(source) +
                               " must connect with its certificate (its root is pinned here)");
    return Status::Ok();
  }
  if (queue_interface)
    return Status::Error(Code::kNotPermitted, "queue interface " +
                                                  std::string(interface_name(iface)) +
                                                  " is for this node's containers; peer " +
                                                  std::string(hop) + " may not call it");
  if (source == hop) return Status::Ok();
  if (source.empty() || source == cfg.node_id)
    return Status::Error(Code::kBadCertSignature,
                         "hop " + std::string(hop) + " presented a certificate of " +
                             std::string(hop) + " but the request claims source " + cfg.node_id +
                             " (this node)");
  if (relays_for(cfg, hop, source)) return Status::Ok();
  return Status::Error(Code::kBadCertSignature,
                       "hop " + std::string(hop) + " presented a certificate of " +
                           std::string(hop) + " but the request claims source " +
                           std::string(source));
}

}  // namespace ptp
