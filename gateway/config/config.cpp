// YAML -> validated Config. Every rejection names the file, the key path and the problem;
// unknown keys are errors so that a typo never silently falls back to a default.
#include "gateway/config/config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "gateway/config/config_yaml.h"

namespace ptp {
namespace {

using namespace config_yaml;

Config parse_root(const YAML::Node& root, const FileResolver& files) {
  if (!root || root.IsNull()) fail("", "the configuration is empty (node.node_id is required)");
  Section top(root, "", {"node",           "listen",
                         "admin",          "io_threads",
                         "reload_poll_ms", "shutdown_grace_ms",
                         "limits",         "connections",
                         "identity",       "auth",
                         "peers",          "default_route",
                         "local_services", "log",
                         "queue",          "kafka_attachment",
                         "router_server",  "peering",
                         "authorization",  "crypto",
                         "evidence"});
  if (!root.IsMap()) fail("", "expected a mapping at the top level, got " + kind_name(root));
  Config cfg;
  parse_node_section(root, cfg);
  parse_listen(root, files, cfg);
  parse_admin(root, files, cfg);
  cfg.io_threads = static_cast<unsigned>(top.integer("io_threads", 0, 0, 256));
  cfg.reload_poll = positive_ms(top, "reload_poll_ms", cfg.reload_poll);
  cfg.shutdown_grace = std::chrono::milliseconds(
      top.integer("shutdown_grace_ms", cfg.shutdown_grace.count(), 0, 3600000));
  parse_limits(root, cfg);
  parse_connections(root, cfg);
  parse_crypto(root, cfg);
  parse_identity(root, files, cfg);
  parse_auth(root, cfg);
  parse_peers(root, files, cfg);
  cfg.default_route = top.string("default_route", "");
  parse_local_services(root, cfg);
  parse_log(root, files, cfg);
  parse_queue(root, files, cfg);
  parse_kafka_attachment(root, cfg);
  check_peer_references(cfg);
  parse_peering(root, files, cfg);
  check_auth_modes(cfg);
  parse_router_server(root, cfg);
  parse_authorization(root, cfg);
  parse_evidence(root, files, cfg);
  return cfg;
}

}  // namespace

const QueueDialect& queue_dialect(const QueueConfig& q, const std::string& provider_code) {
  auto it = q.dialects.find(provider_code);
  return it == q.dialects.end() ? q.default_dialect : it->second;
}

std::string_view protocol_name(PeerProtocol p) {
  switch (p) {
    case PeerProtocol::kHttp2:
      return "http2";
    case PeerProtocol::kGrpc:
      return "grpc";
    case PeerProtocol::kHttp1:
      return "http1";
  }
  return "unknown";
}

bool parse_peer_protocol(std::string_view name, PeerProtocol& out) {
  for (auto p : {PeerProtocol::kHttp2, PeerProtocol::kGrpc, PeerProtocol::kHttp1}) {
    if (name == protocol_name(p)) {
      out = p;
      return true;
    }
  }
  return false;
}

std::string_view peer_state_name(PeerState s) {
  switch (s) {
    case PeerState::kPending:
      return "pending";
    case PeerState::kActive:
      return "active";
    case PeerState::kDisabled:
      return "disabled";
  }
  return "unknown";
}

bool parse_peer_state(std::string_view name, PeerState& out) {
  for (auto s : {PeerState::kPending, PeerState::kActive, PeerState::kDisabled}) {
    if (name == peer_state_name(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

const DynamicPeerState* find_dynamic_peer(const std::vector<DynamicPeerState>& sorted,
                                          std::string_view node_id) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), node_id,
                             [](const DynamicPeerState& d, std::string_view id) {
                               return std::string_view(d.node_id) < id;
                             });
  return it != sorted.end() && it->node_id == node_id ? &*it : nullptr;
}

const PeerPolicy* find_peer_policy(const AuthorizationConfig& a, std::string_view node_id) {
  const PeerPolicy* any = nullptr;
  for (const auto& p : a.peers) {
    if (p.node_id == node_id) return &p;
    if (p.node_id == "*") any = &p;
  }
  return any;
}

const PeerConfig* find_peer(const Config& cfg, std::string_view node_id) {
  for (const auto& p : cfg.peers) {
    if (p.node_id == node_id) return &p;
  }
  return nullptr;
}

AuthMode auth_mode_for(const Config& cfg, std::string_view node_id) {
  const PeerConfig* p = find_peer(cfg, node_id);
  return p && p->auth_mode ? *p->auth_mode : cfg.auth.mode;
}

const PeerConfig* next_hop_for(const Config& cfg, const PeerConfig& peer) {
  const PeerConfig* p = &peer;
  // Bounded even for configs that did not go through validation.
  for (size_t depth = 0; p && !p->address; ++depth) {
    if (depth > cfg.peers.size()) return nullptr;
    p = find_peer(cfg, p->via);
  }
  return p;
}

ConfigPtr parse_config_text(const std::string& yaml, const std::string& source_name,
                            std::string& error) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    std::ostringstream msg;
    msg << source_name << ": ";
    if (!e.mark.is_null()) {
      msg << "line " << e.mark.line + 1 << ", column " << e.mark.column + 1 << ": ";
    }
    msg << "YAML syntax error: " << e.msg;
    error = msg.str();
    return nullptr;
  }
  try {
    FileResolver files(fs::path(source_name).parent_path());
    auto cfg = std::make_shared<Config>(parse_root(root, files));
    cfg->source_path = source_name;
    return cfg;
  } catch (const ConfigError& e) {
    error = source_name + ": " + (e.path.empty() ? "" : e.path + ": ") + e.message;
  } catch (const YAML::Exception& e) {
    error = source_name + ": invalid YAML structure: " + e.msg;
  }
  return nullptr;
}

ConfigPtr load_config(const std::string& path, std::string& error) {
  std::error_code dir_ec;
  if (fs::is_directory(path, dir_ec)) {
    error = path + ": cannot read the configuration file (it is a directory)";
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    bool exists = fs::exists(path, ec);
    error = path + ": cannot read the configuration file (" +
            (exists ? "permission denied or not a file" : "no such file") + ")";
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    error = path + ": error while reading the configuration file";
    return nullptr;
  }
  return parse_config_text(text.str(), path, error);
}

}  // namespace ptp
