// X.509 certificates of node identities (docs/identity.md): a node's self-signed root
// (CA:TRUE pathlen:0, naming the node by the URI SAN urn:ptp:node:<id> and its institution
// by the subject O) and the TLS certificate that root issues for the gateway's addresses.
// A Certificate is immutable once built; copies share the one OpenSSL object.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trust/node_key.h"
#include "trust/openssl_ptr.h"
#include "trust/public_key.h"

namespace ptp {

class Certificate {
 public:
  // The first certificate of a PEM text.
  static std::optional<Certificate> from_pem(std::string_view pem, std::string& error);
  // Every certificate of a PEM text, in order (at least one; at most 16).
  static std::optional<std::vector<Certificate>> chain_from_pem(std::string_view pem,
                                                                std::string& error);
  // Takes ownership of `cert` (not null).
  explicit Certificate(trust::X509Ptr cert) : cert_(std::move(cert)) {}

  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;

  std::string pem() const;
  std::string der() const;
  // Lowercase hex SHA-256 of der(), 64 characters: the root fingerprint of an invitation
  // (shown to people as "sha256:" + this).
  std::string fingerprint_hex() const;
  // The node the certificate names (its one urn:ptp:node: URI SAN), nullopt without one.
  std::optional<std::string> node_id() const;
  // The DNS names and IP addresses of its subjectAltName, in order (IPv6 as inet_ntop
  // writes it): the hosts a TLS certificate was issued for.
  std::vector<std::string> hosts() const;
  // The subject's O (the institution id), empty without one.
  std::string inst_id() const;
  // Validity bounds, unix seconds.
  int64_t not_before_unix() const;
  int64_t not_after_unix() const;
  // basicConstraints CA:TRUE.
  bool is_ca() const;
  std::optional<PublicKey> public_key(std::string& error) const;
  // The OpenSSL object, owned by this Certificate; do not modify it.
  X509* get() const { return cert_.get(); }

 private:
  trust::X509Ptr cert_;
};

// The PEM texts of `chain`, concatenated in order.
std::string chain_pem(const std::vector<Certificate>& chain);

// A node's self-signed root, signed by `node_key` (SHA-256 / none for Ed25519 / SM3 with
// the SM2 ID): subject CN=<node_id>, O=<inst_id>; basicConstraints critical CA:TRUE
// pathlen:0; keyUsage critical keyCertSign, cRLSign, digitalSignature; SAN URI
// urn:ptp:node:<node_id>; subjectKeyIdentifier; valid from an hour ago (clock skew between
// nodes) for `days` days. node_id and inst_id: [A-Za-z0-9._:-], at most 64 characters.
std::optional<Certificate> make_root_certificate(const NodeKey& node_key, std::string_view node_id,
                                                 std::string_view inst_id, int days,
                                                 std::string& error);

// A TLS certificate for `tls_key` issued by `root` (signed with `root_key`, the node key):
// subject CN=<node_id>; SAN URI urn:ptp:node:<node_id> plus, for each of `hosts`, an IP SAN
// when it is an IPv4/IPv6 literal, else a DNS SAN; extendedKeyUsage serverAuth, clientAuth;
// keyUsage critical digitalSignature; authorityKeyIdentifier; valid from an hour ago for
// `days` days. `root` must name node_id.
std::optional<Certificate> issue_tls_certificate(const NodeKey& root_key, const Certificate& root,
                                                 const PublicKey& tls_key, std::string_view node_id,
                                                 const std::vector<std::string>& hosts, int days,
                                                 std::string& error);

// Whether `root` is a node root for `node_id`: a CA certificate, self-signed (its signature
// checks with its own key), within its validity, naming `node_id`. The message says what is
// wrong.
bool verify_node_root(const Certificate& root, std::string_view node_id, std::string& error);

// Whether `leaf` was issued by `root`: the chain leaf -> root checks with a store holding
// only `root` (signatures, validity now, CA constraints, any purpose), and the leaf names the
// same node as the root. SM2 signatures are checked with the SM2 ID "1234567812345678" (the
// TLS handshake's own chain check in OpenSSL 3.0 uses none, so a gateway checks an SM2
// root's certificates with this function).
bool verify_issued_by(const Certificate& leaf, const Certificate& root, std::string& error);

}  // namespace ptp
