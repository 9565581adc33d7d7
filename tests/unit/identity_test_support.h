// For unit tests of the authentication modes: node keys, their root certificates (PEM), and
// an identity directory of files a config can name.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "trust/certificate.h"
#include "trust/node_key.h"

namespace ptp::testing {

inline NodeKey new_node_key(KeyAlgorithm alg = KeyAlgorithm::kEcdsaP256) {
  std::string error;
  auto key = NodeKey::generate(alg, error);
  INFO(error);
  REQUIRE(key);
  return std::move(*key);
}

// The node root certificate (PEM) of `key` for node `cn`: what a pinned root gives the
// token check.
inline std::string root_pem_for(const NodeKey& key, const std::string& cn) {
  std::string error;
  auto cert = make_root_certificate(key, cn, "INST_" + cn, 1, error);
  INFO(error);
  REQUIRE(cert);
  return cert->pem();
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
