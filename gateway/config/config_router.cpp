// The router_server configuration section.
#include <algorithm>
#include <string>

#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {
namespace {

// router_server.job_sources: a list of node ids (each may start jobs whose result goes to
// itself), or a mapping from node id to the list of HE nodes its jobs may deliver to.
void parse_job_sources(const Section& s, RouterServerConfig& r) {
  const std::string path = s.at("job_sources");
  const std::string expected =
      "expected a list of node ids, or a mapping from node id to a list of HE node ids";
  if (!s.has("job_sources"))
    fail(path, "required key is missing (the nodes whose job specs this router server accepts)");
  YAML::Node node = s.get("job_sources");
  auto id_at = [](const YAML::Node& n, const std::string& at) {
    if (!n.IsScalar()) fail(at, "expected a node id, got " + kind_name(n));
    check_id(at, n.Scalar());
    return n.Scalar();
  };
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      std::string id = id_at(node[i], index_path(path, i));
      r.job_sources[id] = {id};
    }
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string id = id_at(kv.first, path);
      const std::string at = path + "." + id;
      if (r.job_sources.count(id)) fail(at, "duplicate key");
      std::vector<std::string>& he = r.job_sources[id];
      if (!kv.second.IsSequence() || kv.second.size() == 0)
        fail(at,
             "expected a non-empty list of the HE nodes this source's jobs may deliver to, "
             "got " +
                 kind_name(kv.second));
      for (size_t i = 0; i < kv.second.size(); ++i)
        he.push_back(id_at(kv.second[i], index_path(at, i)));
    }
  } else {
    fail(path, expected + ", got " + kind_name(node));
  }
  if (r.job_sources.empty()) fail(path, "must not be empty (" + expected + ")");
}

}  // namespace

void parse_router_server(const YAML::Node& root, Config& cfg) {
  if (!root["router_server"]) return;
  Section s(root["router_server"], "router_server",
            {"role", "peer_rs_node", "workers", "job_timeout_s", "max_running_jobs",
             "max_running_jobs_per_source", "combine_at", "job_sources"});
  RouterServerConfig& r = cfg.router_server;
  r.enabled = true;
  if (!s.has("role")) fail(s.at("role"), "required key is missing (A or B)");
  const std::string role = s.required_string("role");
  if (role != "A" && role != "B")
    fail(s.at("role"), "unknown role " + quote_value(role) + " (expected A or B)");
  r.role = role == "A" ? rs::Role::kA : rs::Role::kB;
  const std::string combine = s.string("combine_at", "rc");
  auto c = rs::parse_combine_at(combine);
  if (!c) fail(s.at("combine_at"), "expected rc or rs_a, got " + quote_value(combine));
  r.combine_at = *c;
  r.workers = static_cast<unsigned>(s.integer("workers", 0, 0, 256));
  r.job_timeout =
      std::chrono::seconds(s.integer("job_timeout_s", r.job_timeout.count(), 1, 24 * 3600));
  r.max_running_jobs =
      static_cast<unsigned>(s.integer("max_running_jobs", r.max_running_jobs, 1, 4096));
  if (auto peer = s.opt_string("peer_rs_node")) {
    r.peer_rs_node = *peer;
    check_id(s.at("peer_rs_node"), r.peer_rs_node);
    if (r.peer_rs_node == cfg.node_id)
      fail(s.at("peer_rs_node"), quote_value(r.peer_rs_node) + " is this node's own id");
    if (!find_peer(cfg, r.peer_rs_node) && cfg.default_route.empty())
      fail(s.at("peer_rs_node"),
           "no peer " + quote_value(r.peer_rs_node) + " is configured (and no default_route)");
  } else if (r.combine_at == rs::CombineAt::kRsA) {
    fail(s.at("peer_rs_node"),
         "required with combine_at rs_a (the node of the other router server)");
  }
  parse_job_sources(s, r);
  // A single job source has nobody to crowd out: it may use every slot.
  const unsigned per_source_default =
      r.job_sources.size() == 1 ? r.max_running_jobs : std::max(1u, r.max_running_jobs / 4);
  r.max_running_jobs_per_source =
      static_cast<unsigned>(s.integer("max_running_jobs_per_source", per_source_default, 1, 4096));
  if (r.max_running_jobs_per_source > r.max_running_jobs)
    fail(s.at("max_running_jobs_per_source"),
         std::to_string(r.max_running_jobs_per_source) + " exceeds max_running_jobs (" +
             std::to_string(r.max_running_jobs) + "), the jobs running at once of all sources");
  if (!cfg.queue.enabled) fail(s.path(), "needs queue.enabled (jobs arrive as queued messages)");
  if (!cfg.kafka_attachment.egress_topic.empty())
    fail(s.path(),
         "cannot be used with kafka_attachment.egress_topic (its messages must stay in the inbox)");
  // Deliveries to hmac targets carry a v1 token from this node's key (to signature targets
  // an s1 token from identity.dir/node.key, which check_auth_modes requires).
  if (cfg.auth.enabled && !cfg.auth.node_keys.count(cfg.node_id) && hmac_in_use(cfg))
    fail(s.path(), "deliveries are signed with this node's key: auth.node_keys." + cfg.node_id +
                       " is required while auth.enabled is true");
}

}  // namespace ptp::config_yaml
