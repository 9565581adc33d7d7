// The crypto profile: `crypto: international | gm` (docs/configuration.md, docs/security.md
// "Crypto profiles"), and what gm asks of the rest of the configuration.
#include "gateway/config/config_yaml.h"
#include "gateway/config/peer_root.h"

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

void check_crypto_profile(Config& cfg) {
  // hmac tokens: v1 (HMAC-SHA256) or, under gm, g1 (HMAC-SM3).
  cfg.auth.token_mac = cfg.crypto.gm ? MacDigest::kSm3 : MacDigest::kSha256;
  if (!cfg.crypto.gm) return;
  const NodeKey* key = cfg.identity.node_key.get();
  if (key && key->algorithm() != KeyAlgorithm::kSm2)
    fail("identity.dir", "crypto: gm needs an SM2 node key, but " +
                             quote_value(cfg.identity.node_key_file()) + " is " +
                             std::string(key_algorithm_name(key->algorithm())) +
                             " (make an SM2 identity with `ptpctl identity init --algorithm sm2`)");
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    const PeerConfig& p = cfg.peers[i];
    if (p.root_pem.empty()) continue;
    if (std::string why = gm_root_problem(p.root_pem); !why.empty())
      fail(index_path("peers", i) + ".root_file",
           "peer " + quote_value(p.node_id) + ": the pinned root " + quote_value(p.root_file) +
               " cannot be used: " + why);
  }
}

}  // namespace ptp::config_yaml
