#include "gateway/peering/crypto.h"

#include <memory>

#include "trust/certificate.h"
#include "trust/identity.h"

namespace ptp {
namespace {

Status cert_error(std::string why) {
  return Status::Error(Code::kBadCertSignature, std::move(why));
}

std::string fingerprint_of(std::string_view pem) {
  std::string error;
  auto cert = Certificate::from_pem(pem, error);
  return cert ? cert->fingerprint_hex() : std::string();
}

Status check_certificates(std::string_view root_pem, std::string_view chain_pem,
                          std::string_view node_id) {
  std::string error;
  auto root = Certificate::from_pem(root_pem, error);
  if (!root) return cert_error("host_root: " + error);
  if (!verify_node_root(*root, node_id, error)) return cert_error("host_root: " + error);
  auto chain = Certificate::chain_from_pem(chain_pem, error);
  if (!chain) return cert_error("host_crt: " + error);
  if (!verify_issued_by(chain->front(), *root, error))
    return cert_error("host_crt is not issued by host_root: " + error);
  return Status::Ok();
}

bool verify_with_root(std::string_view root_pem, std::string_view data, std::string_view sig) {
  std::string error;
  auto root = Certificate::from_pem(root_pem, error);
  if (!root) return false;
  auto key = root->public_key(error);
  return key && key->verify(data, sig);
}

}  // namespace

bool make_handshake_crypto(const Config& cfg, HandshakeCrypto& out, std::string& error) {
  if (cfg.identity.dir.empty()) {
    error = "no identity.dir";
    return false;
  }
  auto id = load_identity(cfg.identity.dir, error);
  if (!id) return false;
  if (id->node_id != cfg.node_id) {
    error = cfg.identity.dir + ": the identity is node " + id->node_id + ", not node.node_id " +
            cfg.node_id;
    return false;
  }
  out.node_id = cfg.node_id;
  out.root_pem = id->root.pem();
  out.root_fp = id->root_fingerprint();
  out.tls_chain_pem = chain_pem(id->tls_chain);
  out.address = id->address.empty() ? cfg.listen.to_string() : id->address;
  out.fingerprint = fingerprint_of;
  out.check_certificates = check_certificates;
  out.verify = verify_with_root;
  out.sign = [k = std::make_shared<NodeKey>(id->node_key)](std::string_view data) {
    return k->sign(data);
  };
  return true;
}

}  // namespace ptp
