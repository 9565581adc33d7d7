// The authorization section: per-peer policies of what partners may call at this node
// (docs/authorization.md, docs/configuration.md). Read at start and on every reload.
#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {
namespace {

// The interfaces a policy can grant: the PTP interfaces (the peering handshake's weave and
// ack carry no source node and are not subject to authorization).
constexpr Interface kGrantable[] = {Interface::kInvoke, Interface::kTransport, Interface::kPush,
                                    Interface::kPop,    Interface::kPeek,      Interface::kRelease};

std::vector<std::string> string_list(const Section& s, std::string_view key) {
  std::vector<std::string> out;
  YAML::Node list = s.get(key);
  if (!list || list.IsNull()) return out;
  const std::string path = s.at(key);
  if (!list.IsSequence()) fail(path, "expected a list, got " + kind_name(list));
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = index_path(path, i);
    if (!list[i].IsScalar()) fail(at, "expected a string, got " + kind_name(list[i]));
    if (list[i].Scalar().empty()) fail(at, "empty pattern");
    out.push_back(list[i].Scalar());
  }
  return out;
}

std::vector<Interface> interfaces(const Section& s) {
  std::vector<Interface> out;
  const std::string path = s.at("interfaces");
  auto names = string_list(s, "interfaces");
  for (size_t i = 0; i < names.size(); ++i) {
    const Interface* found = nullptr;
    for (const Interface& g : kGrantable)
      if (interface_name(g) == names[i]) found = &g;
    if (!found)
      fail(index_path(path, i), "unknown interface " + quote_value(names[i]) +
                                    " (expected one of: invoke, transport, push, pop, peek, "
                                    "release)");
    out.push_back(*found);
  }
  return out;
}

}  // namespace

void parse_authorization(const YAML::Node& root, Config& cfg) {
  YAML::Node node = root["authorization"];
  if (!node) return;
  Section s(node, "authorization", {"default", "peers"});
  AuthorizationConfig& a = cfg.authorization;
  a.enabled = true;
  const std::string def = s.string("default", "deny");
  if (def != "deny" && def != "allow")
    fail(s.at("default"), "expected deny or allow, got " + quote_value(def));
  a.default_allow = def == "allow";
  YAML::Node list = s.get("peers");
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) fail(s.at("peers"), "expected a list, got " + kind_name(list));
  for (size_t i = 0; i < list.size(); ++i) {
    Section p(list[i], index_path(s.at("peers"), i),
              {"node", "interfaces", "uris", "topics", "router_jobs", "require_permit"});
    if (!list[i].IsMap()) fail(p.path(), "expected a mapping, got " + kind_name(list[i]));
    PeerPolicy pol;
    pol.node_id = p.required_string("node");
    if (pol.node_id != "*") check_id(p.at("node"), pol.node_id);
    for (size_t j = 0; j < a.peers.size(); ++j)
      if (a.peers[j].node_id == pol.node_id)
        fail(p.at("node"), "duplicate peer " + quote_value(pol.node_id) + " (also " +
                               index_path(s.at("peers"), j) + ")");
    pol.interfaces = interfaces(p);
    pol.uris = string_list(p, "uris");
    pol.topics = string_list(p, "topics");
    pol.router_jobs = p.boolean("router_jobs", false);
    pol.require_permit = p.boolean("require_permit", false);
    a.peers.push_back(std::move(pol));
  }
}

}  // namespace ptp::config_yaml
