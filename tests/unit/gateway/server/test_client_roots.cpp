#include <doctest/doctest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "gateway/server/client_roots.h"

using namespace ptp;

namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A node identity's two certificates: the self-signed root and a leaf it issued.
struct Node {
  KeyPtr key{EVP_EC_gen("P-256")};
  X509Ptr root;
  X509Ptr issue(const std::string& names_node, bool ca) const {
    X509Ptr cert(X509_new());
    KeyPtr leaf_key(ca ? nullptr : EVP_EC_gen("P-256"));
    EVP_PKEY* subject_key = ca ? key.get() : leaf_key.get();
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ca ? 1 : 2);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(names_node.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), ca ? name : X509_get_subject_name(root.get()));
    X509_set_pubkey(cert.get(), subject_key);
    X509* issuer = ca ? cert.get() : root.get();
    add_ext(cert.get(), issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca) add_ext(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert.get(), issuer, NID_subject_alt_name, ("URI:urn:ptp:node:" + names_node).c_str());
    // As `ptpctl identity init` makes them: the leaf has the root's subject (CN=<node>), so
    // only the key identifiers tell the leaf from a self-issued certificate.
    add_ext(cert.get(), issuer, NID_subject_key_identifier, "hash");
    if (!ca) add_ext(cert.get(), issuer, NID_authority_key_identifier, "keyid");
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    return cert;
  }
  explicit Node(const std::string& id) { root = issue(id, true); }
  std::string root_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_X509(bio.get(), root.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  }
};

StackPtr chain_of(const X509Ptr& leaf, const X509Ptr& root) {
  StackPtr s(sk_X509_new_null());
  for (X509* x : {leaf.get(), root.get()}) {
    X509_up_ref(x);
    sk_X509_push(s.get(), x);
  }
  return s;
}

PeerConfig peer(const std::string& id, const std::string& root_pem) {
  PeerConfig p;
  p.node_id = id;
  p.root_pem = root_pem;
  return p;
}

// Verifies `chain` (leaf first) against the roots' trust anchors, as the listener does.
bool verifies(const ClientRoots& roots, const StackPtr& chain) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), sk_X509_value(chain.get(), 0), nullptr);
  X509_STORE_CTX_set0_trusted_stack(ctx.get(), roots.trusted());
  return X509_verify_cert(ctx.get()) == 1;
}

}  // namespace

TEST_CASE("client roots: a peer's leaf from its pinned root gives its hop identity") {
  Node a("A"), b("B"), c("C");
  Config cfg;
  cfg.node_id = "B";
  cfg.peers = {peer("A", a.root_pem()), peer("N", "")};
  std::vector<X509Ptr> client_ca;
  client_ca.push_back(c.issue("C", true));  // a second copy of C's root: the operator's CA
  ClientRoots roots(cfg, client_ca);
  CHECK(sk_X509_num(roots.trusted()) == 2);

  StackPtr from_a = chain_of(a.issue("A", false), a.root);
  CHECK(verifies(roots, from_a));
  CHECK(roots.acceptable(from_a.get()));
  CHECK(roots.hop_node_id(from_a.get()) == "A");

  // Issued by A's pinned root but naming C: refused.
  StackPtr a_names_c = chain_of(a.issue("C", false), a.root);
  CHECK(verifies(roots, a_names_c));
  CHECK_FALSE(roots.acceptable(a_names_c.get()));
  CHECK(roots.hop_node_id(a_names_c.get()).empty());

  // B's root is pinned nowhere here: the chain does not verify.
  StackPtr from_b = chain_of(b.issue("B", false), b.root);
  CHECK_FALSE(verifies(roots, from_b));
}

TEST_CASE("client roots: a listen.tls.client_ca chain is accepted without a hop identity") {
  Node c("C");
  Config cfg;
  cfg.node_id = "B";
  std::vector<X509Ptr> client_ca;
  X509_up_ref(c.root.get());
  client_ca.emplace_back(c.root.get());
  ClientRoots roots(cfg, client_ca);
  StackPtr from_c = chain_of(c.issue("C", false), c.root);
  CHECK(verifies(roots, from_c));
  CHECK(roots.acceptable(from_c.get()));
  CHECK(roots.hop_node_id(from_c.get()).empty());  // C is no peer: no hop identity
  CHECK(roots.hop_node_id(nullptr).empty());
}
