// The peering section: the handshake's approval and expiry, the invitations' lifetime and
// where the dynamic peer table is kept (docs/peering.md, docs/configuration.md).
#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {

void parse_peering(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  Section s(root["peering"], "peering",
            {"auto_approve", "expiry_days", "expiry_s", "invitation_ttl_s", "store"});
  PeeringConfig& p = cfg.peering;
  p.auto_approve = s.boolean("auto_approve", p.auto_approve);
  p.expiry_days = s.integer("expiry_days", p.expiry_days, 1, 36500);
  p.expiry_s = s.integer("expiry_s", p.expiry_s, 0, 36500ll * 86400);
  p.invitation_ttl_s = s.integer("invitation_ttl_s", p.invitation_ttl_s, 1, 30 * 86400);
  if (s.has("store")) {
    const std::string store = s.required_string("store");
    p.store = files.path(store);
  }
}

}  // namespace ptp::config_yaml
