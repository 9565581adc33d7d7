#include "gateway/peering/crypto.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "codecs/hex.h"
#include "common/node_uri.h"
#include "trust/node_key.h"
#include "trust/openssl_ptr.h"
#include "trust/public_key.h"
#include "trust/secure_file.h"

namespace ptp {
namespace {

using trust::X509Ptr;

std::vector<X509Ptr> read_certs(std::string_view pem) {
  std::vector<X509Ptr> out;
  if (pem.empty() || pem.size() > (1 << 20)) return out;
  trust::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (bio && out.size() < 8) {
    X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!c) break;
    out.emplace_back(c);
  }
  return out;
}

std::string fingerprint_of(std::string_view pem) {
  auto certs = read_certs(pem);
  if (certs.empty()) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(certs[0].get(), EVP_sha256(), md, &n) != 1) return {};
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), n));
}

Status cert_error(std::string why) {
  return Status::Error(Code::kBadCertSignature, std::move(why));
}

Status check_certificates(std::string_view root_pem, std::string_view chain_pem,
                          std::string_view node_id) {
  auto roots = read_certs(root_pem);
  if (roots.size() != 1) return cert_error("host_root is not one PEM certificate");
  X509* root = roots[0].get();
  if (X509_check_ca(root) == 0)
    return cert_error("host_root is not a CA certificate (basicConstraints CA:TRUE)");
  if (certificate_node_id(root) != std::string(node_id))
    return cert_error("host_root does not name node " + std::string(node_id) +
                      " (URI SAN urn:ptp:node:" + std::string(node_id) + ")");
  auto chain = read_certs(chain_pem);
  if (chain.empty()) return cert_error("host_crt holds no PEM certificate");
  X509* leaf = chain[0].get();
  trust::X509StorePtr store(X509_STORE_new());
  trust::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), root) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1)
    return cert_error("cannot check host_crt");
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1)
    return cert_error(
        "host_crt is not issued by host_root: " +
        std::string(X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  if (certificate_node_id(leaf) != std::string(node_id))
    return cert_error("host_crt does not name node " + std::string(node_id));
  return Status::Ok();
}

bool verify_with_root(std::string_view root_pem, std::string_view data, std::string_view sig) {
  auto roots = read_certs(root_pem);
  if (roots.empty()) return false;
  std::string error;
  auto key = PublicKey::from_certificate(roots[0].get(), error);
  return key && key->verify(data, sig);
}

}  // namespace

bool make_handshake_crypto(const Config& cfg, HandshakeCrypto& out, std::string& error) {
  const IdentityConfig& id = cfg.identity;
  if (id.dir.empty()) {
    error = "no identity.dir";
    return false;
  }
  auto key = NodeKey::load_pem_file(id.node_key_file(), error);
  if (!key) return false;
  auto root = read_small_file(id.root_cert_file(), 1 << 20, error);
  if (!root) return false;
  auto chain = read_small_file(id.tls_cert_file(), 1 << 20, error);
  if (!chain) return false;
  out.node_id = cfg.node_id;
  out.root_pem = *root;
  out.root_fp = fingerprint_of(*root);
  if (out.root_fp.empty()) {
    error = id.root_cert_file() + ": not a PEM certificate";
    return false;
  }
  out.tls_chain_pem = *chain;
  out.address = cfg.listen.to_string();
  std::string ignored;
  if (auto meta = read_small_file(id.dir + "/identity.json", 1 << 16, ignored)) {
    auto o = nlohmann::json::parse(*meta, nullptr, false);
    if (o.is_object() && o.contains("address") && o["address"].is_string() &&
        !o["address"].get<std::string>().empty())
      out.address = o["address"].get<std::string>();
  }
  out.fingerprint = fingerprint_of;
  out.check_certificates = check_certificates;
  out.verify = verify_with_root;
  out.sign = [k = std::make_shared<NodeKey>(std::move(*key))](std::string_view data) {
    return k->sign(data);
  };
  return true;
}

}  // namespace ptp
