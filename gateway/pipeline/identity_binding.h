// Identity binding (docs/security.md "Transport"): the claimed source of a request against
// the hop identity of the connection it arrived on (Request::hop_node_id, the peer whose
// pinned root issued the client certificate; empty: no such certificate).
#pragma once

#include <string_view>

#include "codecs/interface.h"
#include "codecs/status.h"
#include "gateway/config/config.h"

namespace ptp {

// Ok, or the refusal of a request claiming `source` that arrived with hop identity `hop`:
//   - a queue interface (pop, peek, release, push: `queue_interface`) is for this node's
//     containers: with a hop identity, E0000000614;
//   - a hop identity with this node as the claimed source: E0000000615;
//   - a hop H claiming another source S: accepted only when H relays for S (peer H has
//     relay: true, or S's next hop is H), else E0000000615;
//   - no hop identity while S (or S's next hop) has a pinned root: E0000000615, S must
//     connect with its certificate.
// O(1) for this node's own containers (no hop identity, source this node); otherwise a
// look-up of the peers involved.
Status check_identity_binding(const Config& cfg, Interface iface, bool queue_interface,
                              std::string_view source, std::string_view hop);

}  // namespace ptp
