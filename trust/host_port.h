// The address a node announces to its peers (identity.json, invitations, weave bodies).
#pragma once

#include <string>
#include <string_view>

namespace ptp {

// "host:port" with a non-empty host (a name or IPv4 address of [A-Za-z0-9.-], or a
// bracketed IPv6 address)
// and a port 1..65535; `host` is set to the host without brackets.
bool parse_host_port(std::string_view address, std::string& host, std::string& error);

}  // namespace ptp
