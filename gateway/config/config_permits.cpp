// The permits section: where the permit store lives (docs/authorization.md "Permits",
// docs/configuration.md). Read at start.
#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {

void parse_permits(const YAML::Node& root, const FileResolver& files, Config& cfg) {
  Section s(root["permits"], "permits", {"store"});
  if (s.has("store")) cfg.permits.store = files.path(s.required_string("store"));
}

}  // namespace ptp::config_yaml
