// set_sm2_ids_for_verify (trust/sm2_verify.h): OpenSSL's own chain check of a TLS leaf that
// an SM2 node root issued fails without the SM2 ID and passes with it, from a trusted stack
// (the PTP port's client check) and from a store (a pinned peer); a P-256 chain is left
// alone; a leaf of another SM2 root still fails.
#include <doctest/doctest.h>
#include <openssl/x509_vfy.h>

#include "trust/certificate.h"
#include "trust/sm2_verify.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::make_key;
using ptp::testing::public_of;

namespace {

struct Chain {
  Certificate root, leaf;
};

Chain chain_of(KeyAlgorithm alg) {
  NodeKey key = make_key(alg);
  std::string error;
  auto root = make_root_certificate(key, "nodeA", "inst-a", 30, error);
  REQUIRE_MESSAGE(root, error);
  auto leaf = issue_tls_certificate(key, *root, public_of(make_key(KeyAlgorithm::kEcdsaP256)),
                                    "nodeA", {"127.0.0.1"}, 30, error);
  REQUIRE_MESSAGE(leaf, error);
  return {std::move(*root), std::move(*leaf)};
}

// X509_verify_cert of a fresh parse of `leaf` (as a TLS peer's certificate arrives) against
// `anchor`, given as a trusted stack or in the store; with or without the SM2 IDs set.
bool verifies(const Certificate& leaf, const Certificate& anchor, bool in_store, bool set_ids) {
  std::string error;
  auto peer = Certificate::from_pem(leaf.pem(), error);
  REQUIRE(peer);
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509)* trusted = sk_X509_new_null();
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  X509_STORE_CTX* sc = X509_STORE_CTX_new();
  REQUIRE((store && trusted && untrusted && sc));
  if (in_store)
    REQUIRE(X509_STORE_add_cert(store, anchor.get()) == 1);
  else
    REQUIRE(sk_X509_push(trusted, anchor.get()) > 0);
  REQUIRE(sk_X509_push(untrusted, peer->get()) > 0);
  REQUIRE(X509_STORE_CTX_init(sc, store, peer->get(), untrusted) == 1);
  if (!in_store) X509_STORE_CTX_set0_trusted_stack(sc, trusted);
  bool ok = (!set_ids || set_sm2_ids_for_verify(sc, in_store ? nullptr : trusted)) &&
            X509_verify_cert(sc) == 1;
  X509_STORE_CTX_free(sc);
  sk_X509_free(untrusted);
  sk_X509_free(trusted);
  X509_STORE_free(store);
  return ok;
}

}  // namespace

TEST_CASE("set_sm2_ids_for_verify: an SM2 root's leaf passes OpenSSL's chain check") {
  Chain sm2 = chain_of(KeyAlgorithm::kSm2);
  Chain other = chain_of(KeyAlgorithm::kSm2);
  Chain p256 = chain_of(KeyAlgorithm::kEcdsaP256);
  for (bool in_store : {false, true}) {
    CAPTURE(in_store);
    CHECK_FALSE(verifies(sm2.leaf, sm2.root, in_store, false));  // OpenSSL 3.0 alone
    CHECK(verifies(sm2.leaf, sm2.root, in_store, true));
    CHECK_FALSE(verifies(sm2.leaf, other.root, in_store, true));
    CHECK(verifies(p256.leaf, p256.root, in_store, false));
    CHECK(verifies(p256.leaf, p256.root, in_store, true));
  }
}
