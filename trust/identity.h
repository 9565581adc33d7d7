// A node's identity directory (docs/identity.md), created by `ptpctl identity init`:
//   node.key       the node key (PKCS#8 PEM, 0600, never overwritten; never leaves the node)
//   root.crt       the node root, self-signed by node.key
//   tls.key        the TLS key (always ECDSA P-256; PKCS#8 PEM, 0600)
//   tls.crt        the TLS certificate issued by the root, followed by root.crt
//   identity.json  {"node_id","inst_id","algorithm","address"}
// Renewing the TLS certificate keeps the root (peers need not re-peer); a new root is a new
// identity (every peer must re-peer).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trust/certificate.h"
#include "trust/host_port.h"
#include "trust/key_algorithm.h"
#include "trust/node_key.h"

namespace ptp {

inline constexpr std::string_view kNodeKeyFileName = "node.key";
inline constexpr std::string_view kRootCertFileName = "root.crt";
inline constexpr std::string_view kTlsKeyFileName = "tls.key";
inline constexpr std::string_view kTlsCertFileName = "tls.crt";
inline constexpr std::string_view kIdentityJsonFileName = "identity.json";

struct IdentityOptions {
  std::string node_id;
  std::string inst_id;
  KeyAlgorithm algorithm = KeyAlgorithm::kEcdsaP256;
  // host:port announced to peers (in invitations and weave bodies).
  std::string address;
  // The DNS names / IP addresses of the TLS certificate; empty: the host of `address`.
  std::vector<std::string> hosts;
  int root_days = 3650;
  int tls_days = 397;
};

struct NodeIdentity {
  std::string node_id;
  std::string inst_id;
  KeyAlgorithm algorithm;
  std::string address;
  NodeKey node_key;
  Certificate root;
  NodeKey tls_key;
  // tls.crt: the TLS certificate first, the root last.
  std::vector<Certificate> tls_chain;

  const Certificate& tls_certificate() const { return tls_chain.front(); }
  // The root's fingerprint (Certificate::fingerprint_hex).
  std::string root_fingerprint() const { return root.fingerprint_hex(); }
};

// Creates the identity files in `dir` (created with mode 0700 when missing). Refuses when
// any of them exists (an identity is never overwritten); on failure removes what it wrote.
std::optional<NodeIdentity> create_identity(const std::string& dir, const IdentityOptions& opts,
                                            std::string& error);

// Loads and checks an identity directory: the key files are not readable by group or others,
// identity.json is complete, the root names node_id and inst_id and is signed by node.key,
// the TLS certificate is issued by the root (and valid now) for tls.key, and tls.crt ends
// with root.crt. The message names the file at fault.
std::optional<NodeIdentity> load_identity(const std::string& dir, std::string& error);

// A new tls.key and tls.crt under the same root, both replaced together (rename). `hosts`
// empty: those of the current TLS certificate. The node key and the root stay.
std::optional<NodeIdentity> renew_tls_certificate(const std::string& dir,
                                                  const std::vector<std::string>& hosts, int days,
                                                  std::string& error);

}  // namespace ptp
