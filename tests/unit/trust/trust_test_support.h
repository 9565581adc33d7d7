// Shared by the trust unit tests: a scratch directory, small file helpers, and running the
// `openssl` command line for cross-checks against an independent implementation.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "trust/node_key.h"
#include "trust/public_key.h"

namespace ptp::testing {

// A fresh node key of `alg` (the test stops when generation fails).
inline NodeKey make_key(KeyAlgorithm alg) {
  std::string error;
  auto key = NodeKey::generate(alg, error);
  REQUIRE_MESSAGE(key.has_value(), error);
  return std::move(*key);
}

// The public half of `key`.
inline PublicKey public_of(const NodeKey& key) {
  std::string error;
  auto pub = key.public_key(error);
  REQUIRE_MESSAGE(pub.has_value(), error);
  return std::move(*pub);
}

// A fresh directory removed at scope exit.
struct TrustTempDir {
  std::filesystem::path path;
  TrustTempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ptp-trust-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TrustTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TrustTempDir(const TrustTempDir&) = delete;
  TrustTempDir& operator=(const TrustTempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::string p = file(name);
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
    return p;
  }
  std::string read(const std::string& name) const {
    std::ifstream in(file(name), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

// Runs `command` through the shell with its output in `output_file`; its exit status.
inline int run_shell(const std::string& command, const std::string& output_file) {
  int rc = std::system((command + " >" + output_file + " 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace ptp::testing
