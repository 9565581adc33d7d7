#include "gateway/peering/overlay.h"

#include <algorithm>
#include <charconv>

#include "gateway/config/peer_root.h"

namespace ptp {

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size())
    return std::nullopt;
  std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) return std::nullopt;
  }
  unsigned v = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || end != port.data() + port.size() || v == 0 || v > 65535)
    return std::nullopt;
  return Endpoint{std::string(host), static_cast<uint16_t>(v)};
}

std::optional<PeerConfig> peer_config_of(const Config& self, const PeerRecord& r) {
  auto ep = parse_endpoint(r.address);
  if (!ep) return std::nullopt;
  PeerConfig p;
  p.node_id = r.node_id;
  p.inst_id = r.inst_id;
  p.address = *ep;
  p.protocol = PeerProtocol::kHttp2;
  p.tls.enabled = true;
  p.tls.verify = true;
  p.tls.server_name = ep->host;
  if (!self.identity.dir.empty()) {
    p.tls.cert_file = self.identity.tls_cert_file();
    p.tls.key_file = self.identity.tls_key_file();
  }
  p.root_pem = r.root_pem;
  // Pinned: the peer's chain must end at its root and its leaf name it (no host check).
  p.tls.pinned_root_pem = r.root_pem;
  p.tls.expected_node_id = r.node_id;
  p.auth_mode = r.auth_mode;
  p.dynamic = true;
  p.state = r.state;
  p.expires_at = r.expires_at;
  return p;
}

ConfigPtr overlay_peers(const ConfigPtr& base, const std::vector<PeerRecord>& records) {
  if (!base) return base;
  auto cfg = std::make_shared<Config>(*base);
  cfg->dynamic_peers.clear();
  for (const auto& r : records) {
    if (r.state == PeerState::kPending || r.node_id == base->node_id) continue;
    if (find_peer(*base, r.node_id)) continue;  // the file's peer wins
    // Under crypto: gm only SM2 roots: a record from before a change of profile is left out
    // (the handshake refuses such peers; peer_records_left_out names them for the log).
    if (base->crypto.gm && !gm_root_problem(r.root_pem).empty()) continue;
    auto p = peer_config_of(*base, r);
    if (!p) continue;
    cfg->dynamic_peers.push_back({p->node_id, p->state, p->expires_at});
    cfg->peers.push_back(std::move(*p));
  }
  std::sort(
      cfg->dynamic_peers.begin(), cfg->dynamic_peers.end(),
      [](const DynamicPeerState& a, const DynamicPeerState& b) { return a.node_id < b.node_id; });
  return cfg;
}

std::vector<std::string> peer_records_left_out(const Config& base,
                                               const std::vector<PeerRecord>& records) {
  std::vector<std::string> out;
  if (!base.crypto.gm) return out;
  for (const auto& r : records) {
    if (r.state == PeerState::kPending || find_peer(base, r.node_id)) continue;
    if (std::string why = gm_root_problem(r.root_pem); !why.empty())
      out.push_back("peer " + r.node_id + ": " + why);
  }
  return out;
}

}  // namespace ptp
