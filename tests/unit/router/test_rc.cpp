// The router client's local pieces (router/rc): gateway URLs and key files.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "router/he/he_wire.h"
#include "router/he/paillier.h"
#include "router/he/paillier_keys.h"
#include "router/rc/gateway_client.h"
#include "router/rc/key_files.h"

using namespace ptp;

TEST_CASE("rc gateway url parsing") {
  auto u = rc::parse_gateway_url("http://127.0.0.1:17330");
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == "17330");
  u = rc::parse_gateway_url("http://[::1]:7304/");
  CHECK(u.host == "::1");
  CHECK(u.port == "7304");
  for (const char* bad :
       {"https://h:1", "h:1", "http://h", "http://h:", "http://h:x1", "http://h:1/v1/interconn"})
    CHECK_THROWS_AS(rc::parse_gateway_url(bad), std::invalid_argument);
}

TEST_CASE("rc secret key file round-trips and is private") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ptp-rc-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "sk.bin").string();
  he::PrivateKey sk = he::generate_private_key(1024, 1024);
  rc::write_secret_key(path, sk);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  he::PrivateKey back = rc::read_secret_key(path, 1024);
  CHECK(BN_cmp(back.p(), sk.p()) == 0);
  CHECK(BN_cmp(back.q(), sk.q()) == 0);
  CHECK(he::public_key_fingerprint(back.public_key()) ==
        he::public_key_fingerprint(sk.public_key()));
  he::Ciphertext c = he::encrypt(sk.public_key(), int64_t{-42});
  CHECK(he::bn_to_i64(he::decrypt(back, c).get()) == -42);

  // The 2048-bit floor applies unless the caller lowers it.
  CHECK_THROWS_AS(rc::read_secret_key(path), std::invalid_argument);
  std::string bytes = rc::read_file(path);
  rc::write_file(path, bytes.substr(0, bytes.size() - 3));
  CHECK_THROWS_WITH_AS(rc::read_secret_key(path, 1024), doctest::Contains("truncated"),
                       std::runtime_error);
  rc::write_file(path, "not a key");
  CHECK_THROWS_WITH_AS(rc::read_secret_key(path, 1024), doctest::Contains("PTPRCSK1"),
                       std::runtime_error);
  rc::write_file(path, "key-of-node\nsecond line\n");
  CHECK(rc::read_node_key(path) == "key-of-node");
  fs::remove_all(dir);
}
