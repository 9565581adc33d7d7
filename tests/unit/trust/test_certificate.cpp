#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "common/unix_time.h"
#include "trust/certificate.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::make_key;
using ptp::testing::public_of;
using ptp::testing::run_shell;
using ptp::testing::TrustTempDir;

namespace {

constexpr KeyAlgorithm kAll[] = {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519,
                                 KeyAlgorithm::kSm2};

Certificate make_root(const NodeKey& key, const std::string& node = "nodeA", int days = 3650) {
  std::string error;
  auto root = make_root_certificate(key, node, "inst-a", days, error);
  REQUIRE_MESSAGE(root.has_value(), error);
  return std::move(*root);
}

Certificate make_leaf(const NodeKey& root_key, const Certificate& root, const NodeKey& tls_key,
                      const std::string& node = "nodeA",
                      std::vector<std::string> hosts = {"127.0.0.1", "localhost", "::1"}) {
  std::string error;
  auto leaf = issue_tls_certificate(root_key, root, public_of(tls_key), node, hosts, 397, error);
  REQUIRE_MESSAGE(leaf.has_value(), error);
  return std::move(*leaf);
}

std::string octets(const ASN1_OCTET_STRING* s) {
  if (!s) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

// A copy of `cert` re-signed by `key` (ECDSA P-256) after `change` edited it.
template <typename F>
Certificate resigned(const Certificate& cert, const NodeKey& key, F change) {
  trust::X509Ptr x(X509_dup(cert.get()));
  change(x.get());
  REQUIRE(X509_sign(x.get(), key.get(), EVP_sha256()) > 0);
  return Certificate(std::move(x));
}

std::string hex_of(const unsigned char* p, unsigned n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s;
}

std::string verify_options(KeyAlgorithm root_alg) {
  return root_alg == KeyAlgorithm::kSm2 ? " -vfyopt distid:1234567812345678" : "";
}

}  // namespace

TEST_CASE("certificate: a node root carries the documented names and extensions") {
  for (KeyAlgorithm alg : kAll) {
    CAPTURE(key_algorithm_name(alg));
    NodeKey key = make_key(alg);
    const int64_t now = unix_now();
    Certificate root = make_root(key);
    CHECK(root.is_ca());
    CHECK(root.node_id() == "nodeA");
    CHECK(root.inst_id() == "inst-a");
    CHECK(X509_get_version(root.get()) == X509_VERSION_3);
    CHECK(X509_get_pathlen(root.get()) == 0);
    CHECK(X509_get_key_usage(root.get()) ==
          (KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));
    CHECK(octets(X509_get0_subject_key_id(root.get())).size() == 20);
    CHECK(X509_NAME_cmp(X509_get_subject_name(root.get()), X509_get_issuer_name(root.get())) == 0);
    CHECK(std::abs(root.not_after_unix() - (now + 3650 * 86400)) <= 5);
    CHECK(std::abs(root.not_before_unix() - (now - 3600)) <= 5);
    std::string error;
    auto pub = root.public_key(error);
    REQUIRE(pub.has_value());
    CHECK(pub->algorithm() == alg);
    CHECK(pub->der() == public_of(key).der());
    CHECK_MESSAGE(verify_node_root(root, "nodeA", error), error);

    const std::string fp = root.fingerprint_hex();
    CHECK(fp.size() == 64);
    CHECK(fp.find_first_not_of("0123456789abcdef") == std::string::npos);
    unsigned char md[32];
    unsigned int len = 0;
    const std::string der = root.der();
    REQUIRE(EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr) == 1);
    CHECK(fp == hex_of(md, len));
  }
}

TEST_CASE("certificate: the TLS certificate a root issues, and the chain check") {
  for (KeyAlgorithm alg : kAll) {
    CAPTURE(key_algorithm_name(alg));
    NodeKey key = make_key(alg);
    Certificate root = make_root(key);
    NodeKey tls_key = make_key(KeyAlgorithm::kEcdsaP256);
    Certificate leaf = make_leaf(key, root, tls_key);
    CHECK_FALSE(leaf.is_ca());
    CHECK(leaf.node_id() == "nodeA");
    CHECK(leaf.inst_id().empty());
    CHECK(X509_get_key_usage(leaf.get()) == KU_DIGITAL_SIGNATURE);
    CHECK(X509_get_extended_key_usage(leaf.get()) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
    CHECK(octets(X509_get0_authority_key_id(leaf.get())) ==
          octets(X509_get0_subject_key_id(root.get())));
    CHECK(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr) == 1);
    CHECK(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0) == 1);
    CHECK(X509_check_ip_asc(leaf.get(), "::1", 0) == 1);
    CHECK(X509_check_ip_asc(leaf.get(), "127.0.0.2", 0) == 0);
    std::string error;
    CHECK(leaf.public_key(error)->der() == public_of(tls_key).der());
    CHECK(std::abs(leaf.not_after_unix() - (unix_now() + 397 * 86400)) <= 5);

    CHECK_MESSAGE(verify_issued_by(leaf, root, error), error);
    // The same node's other root (a new identity) does not vouch for it.
    NodeKey key2 = make_key(alg);
    Certificate root2 = make_root(key2);
    CHECK_FALSE(verify_issued_by(leaf, root2, error));
    CHECK(error.find("the certificate does not chain to the root: ") == 0);
    // Nor is the leaf a node root.
    CHECK_FALSE(verify_node_root(leaf, "nodeA", error));
    CHECK(error == "the root certificate is not a CA certificate (basicConstraints CA:TRUE)");
    CHECK_FALSE(verify_node_root(root, "nodeB", error));
    CHECK(error == "the root certificate names node nodeA, not node nodeB");
  }
}

TEST_CASE("certificate: tampered, expired and misnamed certificates are refused") {
  NodeKey key = make_key(KeyAlgorithm::kEcdsaP256);
  Certificate root = make_root(key);
  NodeKey tls_key = make_key(KeyAlgorithm::kEcdsaP256);
  Certificate leaf = make_leaf(key, root, tls_key);
  std::string error;

  // One byte of the signature changed.
  std::string der = leaf.der();
  der[der.size() - 3] ^= 0x01;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Certificate tampered(trust::X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size()))));
  REQUIRE(tampered.get() != nullptr);
  CHECK_FALSE(verify_issued_by(tampered, root, error));
  CHECK(error == "the certificate does not chain to the root: certificate signature failure");

  // A root whose self-signature is broken is no root.
  der = root.der();
  der[der.size() - 3] ^= 0x01;
  p = reinterpret_cast<const unsigned char*>(der.data());
  Certificate bad_root(trust::X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size()))));
  REQUIRE(bad_root.get() != nullptr);
  CHECK_FALSE(verify_node_root(bad_root, "nodeA", error));
  CHECK_FALSE(verify_issued_by(leaf, bad_root, error));

  // Expired yesterday (re-signed by the right key).
  Certificate expired =
      resigned(leaf, key, [](X509* x) { X509_gmtime_adj(X509_getm_notAfter(x), -86400); });
  CHECK_FALSE(verify_issued_by(expired, root, error));
  CHECK(error == "the certificate does not chain to the root: certificate has expired");

  // Issued by the root but naming another node.
  Certificate other_node = resigned(leaf, key, [](X509* x) {
    int i = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
    X509_EXTENSION_free(X509_delete_ext(x, i));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, nullptr, x, nullptr, nullptr, 0);
    trust::X509ExtensionPtr ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "URI:urn:ptp:node:nodeZ"));
    X509_add_ext(x, ext.get(), -1);
  });
  CHECK_FALSE(verify_issued_by(other_node, root, error));
  CHECK(error == "the certificate names node nodeZ but its root names node nodeA");
}

TEST_CASE("certificate: bad names, hosts, validity and a foreign root key are refused") {
  NodeKey key = make_key(KeyAlgorithm::kEd25519);
  std::string error;
  CHECK_FALSE(make_root_certificate(key, "node A", "inst", 10, error).has_value());
  CHECK(error == "node id must be 1 to 64 characters of [A-Za-z0-9._:-]");
  CHECK_FALSE(make_root_certificate(key, "nodeA", "", 10, error).has_value());
  CHECK(error == "institution id must be 1 to 64 characters of [A-Za-z0-9._:-]");
  CHECK_FALSE(make_root_certificate(key, std::string(65, 'n'), "i", 10, error).has_value());
  CHECK_FALSE(make_root_certificate(key, "nodeA", "inst", 0, error).has_value());
  CHECK(error == "validity must be 1 to 36500 days, not 0");

  Certificate root = make_root(key);
  NodeKey tls_key = make_key(KeyAlgorithm::kEcdsaP256);
  CHECK_FALSE(issue_tls_certificate(key, root, public_of(tls_key), "nodeA", {"a_b"}, 10, error)
                  .has_value());
  CHECK(error == "host 'a_b' is neither an IP address nor a DNS name ([A-Za-z0-9.-])");
  CHECK_FALSE(
      issue_tls_certificate(key, root, public_of(tls_key), "nodeB", {}, 10, error).has_value());
  CHECK(error == "the root certificate does not name node nodeB");
  NodeKey stranger = make_key(KeyAlgorithm::kEd25519);
  CHECK_FALSE(issue_tls_certificate(stranger, root, public_of(tls_key), "nodeA", {}, 10, error)
                  .has_value());
  CHECK(error == "the root certificate is not a CA certificate of this node key");
}

TEST_CASE("certificate: PEM chains read in order, damaged or empty texts refused") {
  NodeKey key = make_key(KeyAlgorithm::kEcdsaP256);
  Certificate root = make_root(key);
  Certificate leaf = make_leaf(key, root, make_key(KeyAlgorithm::kEcdsaP256));
  std::string error;
  auto chain = Certificate::chain_from_pem(chain_pem({leaf, root}), error);
  REQUIRE_MESSAGE(chain.has_value(), error);
  REQUIRE(chain->size() == 2);
  CHECK((*chain)[0].der() == leaf.der());
  CHECK((*chain)[1].fingerprint_hex() == root.fingerprint_hex());
  CHECK(Certificate::from_pem(chain_pem({leaf, root}), error)->der() == leaf.der());

  CHECK_FALSE(Certificate::chain_from_pem("", error).has_value());
  CHECK(error == "no PEM certificate found");
  CHECK_FALSE(Certificate::from_pem("garbage", error).has_value());
  CHECK(error.find("not a PEM certificate") == 0);
  std::string damaged =
      leaf.pem() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  CHECK_FALSE(Certificate::chain_from_pem(damaged, error).has_value());
  CHECK(error.find("a damaged certificate after 1 good ones") == 0);
  std::string many;
  for (int i = 0; i < 17; ++i) many += root.pem();
  CHECK_FALSE(Certificate::chain_from_pem(many, error).has_value());
  CHECK(error == "more than 16 certificates in one chain");
}

TEST_CASE("certificate: the openssl command line accepts the chain and shows the extensions") {
  TrustTempDir dir;
  const std::string out = dir.file("out");
  for (KeyAlgorithm alg : kAll) {
    const std::string name(key_algorithm_name(alg));
    CAPTURE(name);
    NodeKey key = make_key(alg);
    Certificate root = make_root(key);
    Certificate leaf = make_leaf(key, root, make_key(KeyAlgorithm::kEcdsaP256));
    const std::string root_file = dir.write(name + "-root.crt", root.pem());
    const std::string leaf_file = dir.write(name + "-tls.crt", leaf.pem());
    const std::string opts = verify_options(alg);
    CHECK(run_shell("openssl verify -CAfile " + root_file + opts + " " + leaf_file, out) == 0);
    if (alg != KeyAlgorithm::kSm2) {
      CHECK(run_shell("openssl verify -CAfile " + root_file + " -check_ss_sig " + root_file, out) ==
            0);
    }
    // The root's self-signature over its to-be-signed part, checked by openssl pkeyutl (the
    // only way its command line takes an SM2 ID for a CA certificate's own signature).
    {
      unsigned char* tbs = nullptr;
      int n = i2d_re_X509_tbs(root.get(), &tbs);
      REQUIRE(n > 0);
      dir.write(name + "-tbs", std::string(reinterpret_cast<char*>(tbs), static_cast<size_t>(n)));
      OPENSSL_free(tbs);
      const ASN1_BIT_STRING* sig = nullptr;
      X509_get0_signature(&sig, nullptr, root.get());
      dir.write(name + "-sig", octets(sig));
      dir.write(name + "-pub", public_of(key).pem());
      const std::string scheme = alg == KeyAlgorithm::kEd25519 ? " -rawin"
                                 : alg == KeyAlgorithm::kSm2
                                     ? " -rawin -digest sm3 -pkeyopt distid:1234567812345678"
                                     : " -rawin -digest sha256";
      CHECK(run_shell("openssl pkeyutl -verify -pubin -inkey " + dir.file(name + "-pub") + scheme +
                          " -in " + dir.file(name + "-tbs") + " -sigfile " +
                          dir.file(name + "-sig"),
                      out) == 0);
    }
    // A leaf from another root of the same node is refused by openssl too.
    NodeKey key2 = make_key(alg);
    Certificate root2 = make_root(key2);
    const std::string root2_file = dir.write(name + "-root2.crt", root2.pem());
    CHECK(run_shell("openssl verify -CAfile " + root2_file + opts + " " + leaf_file, out) != 0);
    if (alg == KeyAlgorithm::kSm2) {
      // The SM2 ID is part of the signature: without it OpenSSL 3.0 checks with none.
      CHECK(run_shell("openssl verify -CAfile " + root_file + " " + leaf_file, out) != 0);
    }

    REQUIRE(run_shell("openssl x509 -noout -text -in " + root_file, out) == 0);
    std::string text = dir.read("out");
    CHECK(text.find("CA:TRUE, pathlen:0") != std::string::npos);
    CHECK(text.find("URI:urn:ptp:node:nodeA") != std::string::npos);
    CHECK(text.find("Certificate Sign, CRL Sign") != std::string::npos);
    CHECK(text.find("Subject: CN = nodeA, O = inst-a") != std::string::npos);
    REQUIRE(run_shell("openssl x509 -noout -text -in " + leaf_file, out) == 0);
    text = dir.read("out");
    CHECK(text.find("URI:urn:ptp:node:nodeA, IP Address:127.0.0.1, DNS:localhost, "
                    "IP Address:0:0:0:0:0:0:0:1") != std::string::npos);
    CHECK(text.find("TLS Web Server Authentication, TLS Web Client Authentication") !=
          std::string::npos);
    CHECK(text.find("CA:TRUE") == std::string::npos);

    // The fingerprint is openssl's SHA-256 fingerprint, lowercase without colons.
    REQUIRE(run_shell("openssl x509 -noout -fingerprint -sha256 -in " + root_file, out) == 0);
    std::string fp = dir.read("out");
    fp = fp.substr(fp.find('=') + 1);
    std::string plain;
    for (char c : fp)
      if (c != ':' && c != '\n') plain += static_cast<char>(std::tolower(c));
    CHECK(plain == root.fingerprint_hex());
  }
}
