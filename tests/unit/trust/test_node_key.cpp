#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>
#include <vector>

#include "trust/node_key.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::make_key;
using ptp::testing::public_of;
using ptp::testing::run_shell;
using ptp::testing::TrustTempDir;

namespace {

constexpr KeyAlgorithm kAll[] = {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519,
                                 KeyAlgorithm::kSm2};

// The `openssl pkeyutl` options that select each algorithm's signature scheme.
std::string pkeyutl_scheme(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::kEcdsaP256:
      return "-rawin -digest sha256";
    case KeyAlgorithm::kEd25519:
      return "-rawin";
    case KeyAlgorithm::kSm2:
      return "-rawin -digest sm3 -pkeyopt distid:1234567812345678";
  }
  return {};
}

}  // namespace

TEST_CASE("node key: sign and verify round trip for every algorithm; tampering refused") {
  for (KeyAlgorithm alg : kAll) {
    CAPTURE(key_algorithm_name(alg));
    NodeKey key = make_key(alg);
    CHECK(key.algorithm() == alg);
    PublicKey pub = public_of(key);
    CHECK(pub.algorithm() == alg);
    const std::string msg = "ptp-token-s1\nA\nB\nsession\n1700000000";
    std::string sig = key.sign(msg);
    REQUIRE_FALSE(sig.empty());
    if (alg == KeyAlgorithm::kEd25519) CHECK(sig.size() == 64);
    if (alg != KeyAlgorithm::kEd25519) CHECK(static_cast<unsigned char>(sig[0]) == 0x30);  // DER
    CHECK(pub.verify(msg, sig));
    CHECK_FALSE(pub.verify(msg + "x", sig));
    CHECK_FALSE(pub.verify(msg.substr(1), sig));
    std::string bad = sig;
    bad[bad.size() / 2] ^= 0x01;
    CHECK_FALSE(pub.verify(msg, bad));
    CHECK_FALSE(pub.verify(msg, ""));
    CHECK_FALSE(pub.verify(msg, sig.substr(0, sig.size() - 1)));
    // Another key of the same algorithm does not verify it.
    CHECK_FALSE(public_of(make_key(alg)).verify(msg, sig));
    // Copies share the key.
    PublicKey copy = pub;
    NodeKey key_copy = key;
    CHECK(copy.verify(msg, key_copy.sign(msg)));
  }
}

// Keys prepare their signing and verifying contexts once and copy them for each use
// (trust/signature_context.h): the prepared context must come out of every use, good or
// refused, unchanged, and serve several threads at once.
TEST_CASE("node key: one key signs and checks many times, on several threads at once") {
  for (KeyAlgorithm alg : kAll) {
    CAPTURE(key_algorithm_name(alg));
    const NodeKey key = make_key(alg);
    const PublicKey pub = public_of(key);
    std::atomic<int> good{0}, wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          const std::string msg = "batch " + std::to_string(t) + "/" + std::to_string(i);
          const std::string sig = key.sign(msg);
          // A refused check between two good ones leaves nothing behind.
          if (pub.verify(msg, sig) && !pub.verify(msg + "!", sig) && pub.verify(msg, sig))
            ++good;
          else
            ++wrong;
        }
      });
    for (auto& th : threads) th.join();
    CHECK(good == 100);
    CHECK(wrong == 0);
  }
}

TEST_CASE("node key: a public key round trips through PEM and carries no private half") {
  for (KeyAlgorithm alg : kAll) {
    CAPTURE(key_algorithm_name(alg));
    NodeKey key = make_key(alg);
    PublicKey pub = public_of(key);
    std::string pem = pub.pem();
    CHECK(pem.find("-----BEGIN PUBLIC KEY-----") == 0);
    std::string error;
    auto again = PublicKey::from_pem(pem, error);
    INFO(error);
    REQUIRE(again.has_value());
    CHECK(again->algorithm() == alg);
    CHECK(again->der() == pub.der());
    CHECK(again->verify("m", key.sign("m")));
    // The PublicKey's own key object has no private half to encode.
    trust::BioPtr bio(BIO_new(BIO_s_mem()));
    CHECK(PEM_write_bio_PrivateKey(bio.get(), pub.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1);
    ERR_clear_error();
  }
  std::string error;
  CHECK_FALSE(PublicKey::from_pem("not a key", error).has_value());
  CHECK(error.find("not a PEM public key") == 0);
}

TEST_CASE("node key: saved as PKCS#8 PEM with mode 0600, never overwritten, loaded back") {
  TrustTempDir dir;
  // A permissive umask must not widen the key file's mode.
  mode_t old_umask = umask(0);
  for (KeyAlgorithm alg : kAll) {
    CAPTURE(key_algorithm_name(alg));
    NodeKey key = make_key(alg);
    const std::string path = dir.file(std::string(key_algorithm_name(alg)) + ".key");
    std::string error;
    REQUIRE_MESSAGE(key.save_pem_file(path, error), error);
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    std::string text = dir.read(std::string(key_algorithm_name(alg)) + ".key");
    CHECK(text.find("-----BEGIN PRIVATE KEY-----") == 0);

    // A second save refuses and leaves the first key in place.
    NodeKey other = make_key(alg);
    error.clear();
    CHECK_FALSE(other.save_pem_file(path, error));
    CHECK(error == "refusing to overwrite the existing file " + path);
    CHECK(dir.read(std::string(key_algorithm_name(alg)) + ".key") == text);
    CHECK(error.find("PRIVATE") == std::string::npos);

    auto loaded = NodeKey::load_pem_file(path, error);
    INFO(error);
    REQUIRE(loaded.has_value());
    CHECK(loaded->algorithm() == alg);
    CHECK(public_of(key).verify("data", loaded->sign("data")));
    CHECK_FALSE(public_of(other).verify("data", loaded->sign("data")));
  }
  umask(old_umask);
}

TEST_CASE(
    "node key: missing, encrypted, foreign and garbage key files are refused with a message") {
  TrustTempDir dir;
  std::string error;
  CHECK_FALSE(NodeKey::load_pem_file(dir.file("absent.key"), error).has_value());
  CHECK(error.find("cannot open " + dir.file("absent.key")) == 0);

  error.clear();
  CHECK_FALSE(NodeKey::from_pem(dir.write("garbage.key",
                                          "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                          "-----END PRIVATE KEY-----\n"),
                                error)
                  .has_value());
  CHECK(error.find("not an unencrypted PEM private key") != std::string::npos);

  // Encrypted with a passphrase: refused, never prompting on a terminal.
  const std::string out = dir.file("openssl.out");
  REQUIRE(run_shell("openssl genpkey -algorithm ED25519 -aes256 -pass pass:secret -out " +
                        dir.file("enc.key"),
                    out) == 0);
  error.clear();
  CHECK_FALSE(NodeKey::load_pem_file(dir.file("enc.key"), error).has_value());
  CHECK(error.find(dir.file("enc.key") + ": not an unencrypted PEM private key") == 0);

  REQUIRE(run_shell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out " +
                        dir.file("p384.key"),
                    out) == 0);
  error.clear();
  CHECK_FALSE(NodeKey::load_pem_file(dir.file("p384.key"), error).has_value());
  CHECK(error ==
        dir.file("p384.key") + ": unsupported key type EC (expected ecdsa-p256, ed25519 or sm2)");

  // Keys made by the openssl command line load with their algorithm (SM2 detected).
  REQUIRE(run_shell("openssl genpkey -algorithm SM2 -out " + dir.file("sm2.key"), out) == 0);
  auto sm2 = NodeKey::load_pem_file(dir.file("sm2.key"), error);
  REQUIRE_MESSAGE(sm2.has_value(), error);
  CHECK(sm2->algorithm() == KeyAlgorithm::kSm2);
  REQUIRE(run_shell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                        dir.file("p256.key"),
                    out) == 0);
  auto p256 = NodeKey::load_pem_file(dir.file("p256.key"), error);
  REQUIRE_MESSAGE(p256.has_value(), error);
  CHECK(p256->algorithm() == KeyAlgorithm::kEcdsaP256);
}

TEST_CASE("node key: signatures cross-checked with the openssl command line, both ways") {
  TrustTempDir dir;
  const std::string out = dir.file("openssl.out");
  const std::string data = "ptp-token-s1\nnodeA\nnodeB\nsess-1\n1893456000";
  const std::string data_file = dir.write("data", data);
  const std::string other_file = dir.write("other", data + "!");
  for (KeyAlgorithm alg : kAll) {
    const std::string name(key_algorithm_name(alg));
    CAPTURE(name);
    NodeKey key = make_key(alg);
    std::string error;
    const std::string key_file = dir.file(name + ".key");
    REQUIRE_MESSAGE(key.save_pem_file(key_file, error), error);
    const std::string pub_file = dir.write(name + ".pub", public_of(key).pem());
    const std::string scheme = pkeyutl_scheme(alg);

    // NodeKey signs, openssl verifies (and refuses other data with the same signature).
    const std::string sig_file = dir.write(name + ".sig", key.sign(data));
    const std::string verify = "openssl pkeyutl -verify -pubin -inkey " + pub_file + " " + scheme +
                               " -sigfile " + sig_file + " -in ";
    CHECK(run_shell(verify + data_file, out) == 0);
    CHECK(run_shell(verify + other_file, out) != 0);

    // openssl signs with the saved key file, PublicKey verifies.
    REQUIRE(run_shell("openssl pkeyutl -sign -inkey " + key_file + " " + scheme + " -in " +
                          data_file + " -out " + dir.file(name + ".osig"),
                      out) == 0);
    const std::string osig = dir.read(name + ".osig");
    CHECK(public_of(key).verify(data, osig));
    CHECK_FALSE(public_of(key).verify(data + "!", osig));
  }
}
