#include <doctest/doctest.h>

#include "trust/key_algorithm.h"
#include "trust/openssl_ptr.h"

using namespace ptp;

TEST_CASE("key algorithm: names round trip, unknown names refused") {
  for (KeyAlgorithm a : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519, KeyAlgorithm::kSm2}) {
    KeyAlgorithm parsed = KeyAlgorithm::kEd25519;
    REQUIRE(parse_key_algorithm(key_algorithm_name(a), parsed));
    CHECK(parsed == a);
  }
  CHECK(key_algorithm_name(KeyAlgorithm::kEcdsaP256) == "ecdsa-p256");
  CHECK(key_algorithm_name(KeyAlgorithm::kEd25519) == "ed25519");
  CHECK(key_algorithm_name(KeyAlgorithm::kSm2) == "sm2");
  KeyAlgorithm out = KeyAlgorithm::kSm2;
  CHECK_FALSE(parse_key_algorithm("ECDSA-P256", out));
  CHECK_FALSE(parse_key_algorithm("rsa", out));
  CHECK_FALSE(parse_key_algorithm("", out));
  CHECK(out == KeyAlgorithm::kSm2);
}

TEST_CASE("key algorithm: detected from keys; other curves and RSA are not node keys") {
  trust::EvpPkeyPtr p256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  trust::EvpPkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  trust::EvpPkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  trust::EvpPkeyPtr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  REQUIRE(p256);
  REQUIRE(p384);
  REQUIRE(ed);
  REQUIRE(rsa);
  CHECK(key_algorithm_of(p256.get()) == KeyAlgorithm::kEcdsaP256);
  CHECK(key_algorithm_of(ed.get()) == KeyAlgorithm::kEd25519);
  CHECK_FALSE(key_algorithm_of(p384.get()).has_value());
  CHECK_FALSE(key_algorithm_of(rsa.get()).has_value());
  CHECK_FALSE(key_algorithm_of(nullptr).has_value());
}
