// The dynamic peer table laid over the configuration file's peers (docs/peering.md): each
// active or disabled record becomes a PeerConfig appended to the snapshot (HTTP/2 over TLS,
// the peer's root pinned, this node's identity as the client certificate, signature
// tokens); a peer the file names wins. Pending records are not routed.
#pragma once

#include <string>
#include <vector>

#include "gateway/config/config.h"
#include "gateway/peering/peer_store.h"

namespace ptp {

// The PeerConfig of one record, for a node whose own identity is `self.identity`.
// nullopt when its address does not parse as host:port.
std::optional<PeerConfig> peer_config_of(const Config& self, const PeerRecord& r);

// `base` with the records appended (nullptr `base`: nullptr). Under `crypto: gm` records
// whose root is not SM2 are left out.
ConfigPtr overlay_peers(const ConfigPtr& base, const std::vector<PeerRecord>& records);
// The records overlay_peers leaves out for the crypto profile, each as "peer X: why".
std::vector<std::string> peer_records_left_out(const Config& base,
                                               const std::vector<PeerRecord>& records);

// host:port (host a name, an IPv4 address or a bracketed IPv6 address), port 1-65535.
std::optional<Endpoint> parse_endpoint(std::string_view text);

}  // namespace ptp
