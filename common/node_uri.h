// How a certificate names the node it belongs to (docs/peering.md): a URI subject
// alternative name "urn:ptp:node:<node_id>". Node roots and the TLS certificates they
// issue carry it; a connection's hop identity is read from it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <openssl/x509.h>

namespace ptp {

inline constexpr std::string_view kNodeUriPrefix = "urn:ptp:node:";

// "urn:ptp:node:" + node_id.
std::string node_uri(std::string_view node_id);
// The node id of such a URI, or nullopt when `uri` is not one (or names an empty id).
std::optional<std::string> node_id_from_uri(std::string_view uri);
// The node the certificate names: its one node URI SAN. nullopt when it has none, or
// more than one (a certificate names exactly one node).
std::optional<std::string> certificate_node_id(X509* cert);

}  // namespace ptp
