// The handshake's certificate and key operations over trust/ (HandshakeCrypto): this
// node's identity directory (node.key, root.crt, tls.crt, identity.json) and the checks of
// another node's root and chain.
#pragma once

#include <string>

#include "gateway/config/config.h"
#include "gateway/peering/handshake.h"

namespace ptp {

// Loads the identity of cfg.identity.dir. False with `error` naming the file when a file
// is missing or unreadable. identity.json's address is the address announced to peers
// (else listen host:port).
bool make_handshake_crypto(const Config& cfg, HandshakeCrypto& out, std::string& error);

}  // namespace ptp
