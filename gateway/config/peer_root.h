// The key of a peer's pinned root certificate (PeerConfig::root_pem): what checks the
// peer's signature tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "trust/public_key.h"

namespace ptp {

// The subject key of the (first) PEM certificate in `pem`, or nullopt with `error`.
std::optional<PublicKey> root_public_key(std::string_view pem, std::string& error);

// Under `crypto: gm` (docs/security.md "Crypto profiles") every node root must carry an SM2
// key: empty when the root of `pem` does, else why not ("its key is ecdsa-p256", or why
// the root cannot be read).
std::string gm_root_problem(std::string_view pem);

}  // namespace ptp
