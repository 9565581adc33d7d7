#include "gateway/route/route_report.h"

#include <nlohmann/json.hpp>

#include "gateway/route/route_table.h"

namespace ptp {

using Json = nlohmann::json;

namespace {

Json peer_json(const Config& cfg, const PeerConfig& p) {
  const PeerConfig* hop = next_hop_for(cfg, p);
  Json o{{"node_id", p.node_id},
         {"inst_id", p.inst_id},
         {"via", p.via},
         {"next_hop", hop ? hop->node_id : std::string()},
         // The address requests go to now (with several, the failover's choice).
         {"address", hop && hop->address ? hop->endpoint().to_string() : std::string()},
         {"protocol", hop ? std::string(protocol_name(hop->protocol)) : std::string()},
         {"tls", hop && hop->tls.enabled},
         {"state", std::string(peer_state_name(p.state))},
         {"dynamic", p.dynamic},
         {"async_only", p.async_only}};
  if (!p.addresses.empty()) o["addresses"] = p.address_texts();
  return o;
}

}  // namespace

std::string route_table_json(const Config& cfg) {
  Json peers = Json::array();
  for (const PeerConfig& p : cfg.peers) peers.push_back(peer_json(cfg, p));
  Json services = Json::array();
  for (const LocalServiceConfig& s : cfg.local_services)
    services.push_back({{"uri", s.uri_pattern},
                        {"address", s.address.to_string()},
                        {"protocol", std::string(protocol_name(s.protocol))},
                        {"path", s.path},
                        {"passive", s.passive}});
  Json o{{"node_id", cfg.node_id},    {"inst_id", cfg.inst_id},
         {"router", cfg.router_role}, {"default_route", cfg.default_route},
         {"peers", std::move(peers)}, {"local_services", std::move(services)}};
  return o.dump();
}

std::pair<unsigned, std::string> route_decision_json(const Config& cfg, std::string_view node,
                                                     std::string_view inst, std::string_view uri) {
  PtpHeader h;
  h.source_node_id = cfg.node_id;
  h.target_node_id = std::string(node);
  h.target_inst_id = std::string(inst);
  h.uri = std::string(uri);
  Json o{{"target", node.empty() ? std::string(inst) : std::string(node)}};
  if (node.empty() && inst.empty()) {
    o["kind"] = "error";
    o["code"] = code_string(Code::kBadRequest);
    o["message"] = "GET /routes?node=N (or inst=I) names the target to resolve";
    return {400, o.dump()};
  }
  const RouteDecision d = resolve_route(cfg, h);
  switch (d.kind) {
    case RouteDecision::Kind::kError:
      o["kind"] = "error";
      o["code"] = code_string(d.error.code);
      o["message"] = d.error.message;
      return {404, o.dump()};
    case RouteDecision::Kind::kDiag:
      o["kind"] = "diag";
      break;
    case RouteDecision::Kind::kLocalService:
      o["kind"] = "local";
      o["service"] = d.service->uri_pattern;
      o["address"] = d.service->address.to_string();
      o["protocol"] = std::string(protocol_name(d.service->protocol));
      break;
    case RouteDecision::Kind::kPeer:
      o["kind"] = "peer";
      o["next_hop"] = d.next_hop->node_id;
      o["address"] = d.next_hop->endpoint().to_string();
      o["protocol"] = std::string(protocol_name(d.next_hop->protocol));
      break;
  }
  o["route"] = d.route_name;
  return {200, o.dump()};
}

}  // namespace ptp
