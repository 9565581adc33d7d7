// For unit tests of the authentication modes: node keys and a minimal self-signed root
// certificate (PEM) for one, and an identity directory of files a config can name.
#pragma once

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "trust/node_key.h"
#include "trust/openssl_ptr.h"

namespace ptp::testing {

inline NodeKey new_node_key(KeyAlgorithm alg = KeyAlgorithm::kEcdsaP256) {
  std::string error;
  auto key = NodeKey::generate(alg, error);
  INFO(error);
  REQUIRE(key);
  return std::move(*key);
}

// A self-signed certificate CN=<cn> for `key` (enough to carry the key: what a pinned
// root gives the token check).
inline std::string root_pem_for(const NodeKey& key, const std::string& cn) {
  trust::X509Ptr cert(X509_new());
  REQUIRE(cert);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
  const EVP_MD* md = key.algorithm() == KeyAlgorithm::kEd25519 ? nullptr : EVP_sha256();
  REQUIRE(X509_sign(cert.get(), key.get(), md) > 0);
  trust::BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert.get()) == 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// A directory removed at scope exit, with an identity directory `id` in it (node.key of
// `key`, root.crt; tls.key and tls.crt are placeholders) and files written on demand.
struct IdentityDir {
  std::filesystem::path path;
  explicit IdentityDir(const NodeKey& key, const std::string& node) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "ptp-authmodes-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
    std::filesystem::create_directory(path / "id");
    std::string error;
    REQUIRE(key.save_pem_file((path / "id" / "node.key").string(), error));
    write("id/root.crt", root_pem_for(key, node));
    write("id/tls.key", "placeholder");
    write("id/tls.crt", "placeholder");
  }
  ~IdentityDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  IdentityDir(const IdentityDir&) = delete;
  IdentityDir& operator=(const IdentityDir&) = delete;
  std::string dir() const { return (path / "id").string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::string p = (path / name).string();
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
    return p;
  }
};

}  // namespace ptp::testing
