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

}  // namespace ptp
