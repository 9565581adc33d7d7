#include "gateway/route/route_table.h"

#include "common/glob.h"

namespace ptp {

namespace {

RouteDecision error_decision(Code code, std::string message, const Config& cfg) {
  RouteDecision d;
  d.kind = RouteDecision::Kind::kError;
  d.error = Status::Error(code, std::move(message), cfg.node_id);
  return d;
}

RouteDecision local_decision(const Config& cfg, const PtpHeader& h) {
  RouteDecision d;
  if (h.uri == kDiagEchoUri || h.uri == kDiagHopUri) {
    d.kind = RouteDecision::Kind::kDiag;
    d.route_name = "diag";
    return d;
  }
  for (const auto& svc : cfg.local_services) {
    if (glob_match(svc.uri_pattern, h.uri)) {
      d.kind = RouteDecision::Kind::kLocalService;
      d.service = &svc;
      d.route_name = "local:" + svc.uri_pattern;
      return d;
    }
  }
  return error_decision(Code::kNotFound,
                        "no local service for uri '" + h.uri + "' at node " + cfg.node_id, cfg);
}

RouteDecision peer_decision(const Config& cfg, const PeerConfig& target, std::string route_name) {
  const PeerConfig* hop = next_hop_for(cfg, target);
  if (!hop) {
    return error_decision(Code::kUnreachable,
                          "peer '" + target.node_id + "' has no reachable next hop", cfg);
  }
  RouteDecision d;
  d.kind = RouteDecision::Kind::kPeer;
  d.target_peer = &target;
  d.next_hop = hop;
  d.route_name = std::move(route_name);
  return d;
}

}  // namespace

bool is_for_this_node(const Config& cfg, const PtpHeader& h) {
  return h.target_node_id.empty() ? (!cfg.inst_id.empty() && h.target_inst_id == cfg.inst_id)
                                  : h.target_node_id == cfg.node_id;
}

RouteDecision resolve_route(const Config& cfg, const PtpHeader& h) {
  if (h.target_node_id.empty() && h.target_inst_id.empty()) {
    return error_decision(Code::kBadRequest,
                          "request names neither a target node nor a target "
                          "institution",
                          cfg);
  }
  if (is_for_this_node(cfg, h)) return local_decision(cfg, h);

  if (!h.target_node_id.empty()) {
    if (const PeerConfig* p = find_peer(cfg, h.target_node_id)) {
      return peer_decision(cfg, *p, "peer:" + p->node_id);
    }
  }
  if (!h.target_inst_id.empty()) {
    for (const auto& p : cfg.peers) {
      if (p.inst_id == h.target_inst_id) return peer_decision(cfg, p, "peer:" + p.node_id);
    }
  }
  if (!cfg.default_route.empty()) {
    if (const PeerConfig* p = find_peer(cfg, cfg.default_route)) {
      return peer_decision(cfg, *p, "default:" + p->node_id);
    }
  }
  return error_decision(Code::kNotPeered,
                        "node '" + h.target_node_id + "' (institution '" + h.target_inst_id +
                            "') is not peered with node " + cfg.node_id +
                            " and no default route is configured",
                        cfg);
}

}  // namespace ptp
