// The one glob of the configuration and the credentials: local_services[i].uri, the
// authorization policies' uris and topics, permit resources.
#pragma once

#include <string_view>

namespace ptp {

// '*' matches any run of characters (including none); every other character matches itself.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace ptp
