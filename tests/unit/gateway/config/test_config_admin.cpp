#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/config/config.h"

using namespace ptp;
namespace fs = std::filesystem;

namespace {

const std::string kBase = R"(
node: {node_id: A, inst_id: INST_A}
listen: {port: 17304}
auth: {node_keys: {A: "k-a"}}
)";

struct TokenDir {
  fs::path path;
  TokenDir() {
    std::string tmpl = (fs::temp_directory_path() / "ptp-admin-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TokenDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& text, mode_t mode) const {
    const fs::path p = path / "admin.token";
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    return p.string();
  }
};

ConfigPtr parse(const std::string& admin, std::string& error) {
  return parse_config_text(kBase + "admin: " + admin + "\n", "t.yaml", error);
}

}  // namespace

TEST_CASE("admin defaults: loopback, no operator credential, 10 s body timeout") {
  std::string error;
  ConfigPtr cfg = parse("{port: 9400}", error);
  REQUIRE(cfg);
  CHECK(cfg->admin.host == "127.0.0.1");
  CHECK(cfg->admin_access.credential_file.empty());
  CHECK(cfg->admin_access.token.empty());
  CHECK(cfg->admin_access.body_timeout == std::chrono::milliseconds(10000));
}

TEST_CASE("admin.credential_file: the token, trimmed, from a 0600 file") {
  TokenDir d;
  const std::string f = d.write("  operator-token-0123456789abcdef\n", 0600);
  std::string error;
  ConfigPtr cfg = parse("{port: 9400, credential_file: " + f + ", body_timeout_ms: 500}", error);
  INFO(error);
  REQUIRE(cfg);
  CHECK(cfg->admin_access.credential_file == f);
  CHECK(cfg->admin_access.token == "operator-token-0123456789abcdef");
  CHECK(cfg->admin_access.body_timeout == std::chrono::milliseconds(500));
}

TEST_CASE("admin.credential_file: refused when open to others, short, or not one word") {
  TokenDir d;
  std::string error;
  std::string f = d.write("operator-token-0123456789abcdef\n", 0640);
  CHECK_FALSE(parse("{port: 9400, credential_file: " + f + "}", error));
  CHECK(error.find("admin.credential_file") != std::string::npos);
  CHECK(error.find("mode 0640") != std::string::npos);
  CHECK(error.find("operator-token") == std::string::npos);  // never the token
  f = d.write("short\n", 0600);
  CHECK_FALSE(parse("{port: 9400, credential_file: " + f + "}", error));
  CHECK(error.find("at least 16 characters") != std::string::npos);
  f = d.write("operator token with spaces 0123456789\n", 0600);
  CHECK_FALSE(parse("{port: 9400, credential_file: " + f + "}", error));
  CHECK(error.find("one word") != std::string::npos);
  CHECK(error.find("spaces") == std::string::npos);
  CHECK_FALSE(parse("{port: 9400, credential_file: " + (d.path / "none").string() + "}", error));
  CHECK(error.find("does not exist") != std::string::npos);
  CHECK_FALSE(parse("{port: 9400, body_timeout_ms: 10}", error));
  CHECK(error.find("admin.body_timeout_ms") != std::string::npos);
}
