// The identity's certificates in a real TLS 1.3 handshake (OpenSSL, in memory): mutual TLS
// between two nodes, each pinning the other's root only.
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/random_hex.h"
#include "trust/identity.h"
#include "trust_test_support.h"

using namespace ptp;
using ptp::testing::TrustTempDir;

namespace {

using SslCtxPtr = std::unique_ptr<SSL_CTX, trust::OpensslFree<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, trust::OpensslFree<SSL_free>>;

NodeIdentity make_identity(const TrustTempDir& tmp, const std::string& node, KeyAlgorithm alg) {
  IdentityOptions o;
  o.node_id = node;
  o.inst_id = "inst-" + node;
  o.algorithm = alg;
  o.address = "127.0.0.1:17601";
  std::string error;
  auto id = create_identity(tmp.file(node + "-" + random_hex(8)), o, error);
  REQUIRE_MESSAGE(id.has_value(), error);
  return std::move(*id);
}

// Checks the peer's chain with verify_issued_by against the pinned root (`arg`).
int verify_with_trust(X509_STORE_CTX* ctx, void* arg) {
  const auto* root = static_cast<const Certificate*>(arg);
  X509* leaf = X509_STORE_CTX_get0_cert(ctx);
  if (!leaf || X509_up_ref(leaf) != 1) return 0;
  std::string error;
  if (verify_issued_by(Certificate(trust::X509Ptr(leaf)), *root, error)) return 1;
  X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_SIGNATURE_FAILURE);
  return 0;
}

SslCtxPtr make_ctx(bool server, const NodeIdentity& self, const Certificate& peer_root,
                   bool trust_verify) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  REQUIRE(ctx);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  REQUIRE(SSL_CTX_use_certificate(ctx.get(), self.tls_certificate().get()) == 1);
  for (size_t i = 1; i < self.tls_chain.size(); ++i)
    REQUIRE(SSL_CTX_add1_chain_cert(ctx.get(), self.tls_chain[i].get()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(ctx.get(), self.tls_key.get()) == 1);
  REQUIRE(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), peer_root.get()) == 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  if (trust_verify)
    SSL_CTX_set_cert_verify_callback(ctx.get(), verify_with_trust,
                                     const_cast<Certificate*>(&peer_root));
  return ctx;
}

// Client `a` connects to server `b`, each pinning `a_pins` / `b_pins`. True when both
// sides complete the handshake.
bool handshake(const NodeIdentity& a, const Certificate& a_pins, const NodeIdentity& b,
               const Certificate& b_pins, bool trust_verify) {
  SslCtxPtr cctx = make_ctx(false, a, a_pins, trust_verify);
  SslCtxPtr sctx = make_ctx(true, b, b_pins, trust_verify);
  SslPtr client(SSL_new(cctx.get()));
  SslPtr server(SSL_new(sctx.get()));
  BIO* cb = nullptr;
  BIO* sb = nullptr;
  REQUIRE(BIO_new_bio_pair(&cb, 0, &sb, 0) == 1);
  SSL_set_bio(client.get(), cb, cb);  // each SSL owns its end
  SSL_set_bio(server.get(), sb, sb);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  bool client_done = false, server_done = false;
  for (int i = 0; i < 20 && !(client_done && server_done); ++i) {
    for (auto [ssl, done] : {std::pair{client.get(), &client_done}, {server.get(), &server_done}}) {
      if (*done) continue;
      int rc = SSL_do_handshake(ssl);
      if (rc == 1) {
        *done = true;
        continue;
      }
      int err = SSL_get_error(ssl, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return false;
      }
    }
  }
  // TLS 1.3: the server learns of a refused client certificate after the client is done.
  char byte = 0;
  SSL_read(server.get(), &byte, 1);
  SSL_write(client.get(), "x", 1);
  bool ok = client_done && server_done && SSL_read(server.get(), &byte, 1) == 1 &&
            SSL_get_verify_result(client.get()) == X509_V_OK &&
            SSL_get_verify_result(server.get()) == X509_V_OK;
  ERR_clear_error();
  return ok;
}

}  // namespace

TEST_CASE("tls: two identities complete mutual TLS pinning each other's root") {
  TrustTempDir tmp;
  for (KeyAlgorithm alg : {KeyAlgorithm::kEcdsaP256, KeyAlgorithm::kEd25519}) {
    CAPTURE(key_algorithm_name(alg));
    NodeIdentity a = make_identity(tmp, "nodeA", alg);
    NodeIdentity b = make_identity(tmp, "nodeB", KeyAlgorithm::kEcdsaP256);
    CHECK(handshake(a, b.root, b, a.root, false));
    CHECK(handshake(a, b.root, b, a.root, true));
    // A client pinning the wrong root refuses the server, and the reverse.
    CHECK_FALSE(handshake(a, a.root, b, a.root, false));
    CHECK_FALSE(handshake(a, b.root, b, b.root, false));
    CHECK_FALSE(handshake(a, a.root, b, a.root, true));
  }
}

TEST_CASE("tls: a chain under an SM2 root needs the SM2 ID: verify_issued_by as the check") {
  TrustTempDir tmp;
  NodeIdentity a = make_identity(tmp, "nodeA", KeyAlgorithm::kSm2);
  NodeIdentity b = make_identity(tmp, "nodeB", KeyAlgorithm::kEcdsaP256);
  // OpenSSL 3.0's own chain check verifies the SM2 signature without the ID: refused.
  CHECK_FALSE(handshake(a, b.root, b, a.root, false));
  // With verify_issued_by as the certificate check, the handshake completes...
  CHECK(handshake(a, b.root, b, a.root, true));
  // ... and another SM2 root of the same node is still refused.
  NodeIdentity a2 = make_identity(tmp, "nodeA", KeyAlgorithm::kSm2);
  CHECK_FALSE(handshake(a, b.root, b, a2.root, true));
}
