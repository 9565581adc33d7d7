// The crypto profile: `crypto: international | gm` (docs/configuration.md, docs/security.md).
#include "gateway/config/config_yaml.h"

namespace ptp::config_yaml {

void parse_crypto(const YAML::Node& root, Config& cfg) {
  YAML::Node n = root["crypto"];
  if (!n || n.IsNull()) return;
  if (!n.IsScalar()) fail("crypto", "expected international or gm, got " + kind_name(n));
  const std::string& v = n.Scalar();
  if (v == "gm") {
    cfg.crypto.gm = true;
    cfg.crypto.digest = DigestAlgorithm::kSm3;
  } else if (v != "international") {
    fail("crypto", "unknown profile " + quote_value(v) + " (expected international or gm)");
  }
}

}  // namespace ptp::config_yaml
