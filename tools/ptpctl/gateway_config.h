// What ptpctl reads from the gateway's configuration file (--config): where the admin port
// is and how to reach it, and the node's identity settings. Read as plain YAML, without the
// gateway's validation (the identity directory may not exist yet).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tools/ptpctl/options.h"

namespace ptp::ptpctl {

struct GatewayConfig {
  std::optional<uint16_t> admin_port;
  std::string admin_address;    // as written (may be a wildcard)
  bool admin_tls = false;       // admin.tls present
  std::string credential_file;  // admin.credential_file, resolved against the file's folder
  std::string identity_dir;     // identity.dir, resolved likewise
  std::string node_id, inst_id;
};

// nullopt without --config; throws UsageError when the file cannot be read or parsed.
std::optional<GatewayConfig> read_gateway_config(const Options& o);

}  // namespace ptp::ptpctl
