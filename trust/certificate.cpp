#include "trust/certificate.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "codecs/hex.h"
#include "codecs/validate.h"
#include "common/node_uri.h"
#include "trust/signature_context.h"

namespace ptp {
namespace {

constexpr size_t kMaxChain = 16;
constexpr size_t kMaxNameLength = 64;  // X.520 upper bound of a common name
constexpr int kMaxDays = 36500;
// Certificates start being valid an hour before they are made: a peer whose clock is a
// little behind must not see a fresh certificate as not yet valid.
constexpr long kBackdateSeconds = 3600;

bool check_name(std::string_view value, std::string_view what, std::string& error) {
  if (!is_valid_id(value) || value.size() > kMaxNameLength) {
    error = std::string(what) + " must be 1 to 64 characters of [A-Za-z0-9._:-]";
    return false;
  }
  return true;
}

bool check_days(int days, std::string& error) {
  if (days < 1 || days > kMaxDays) {
    error =
        "validity must be 1 to " + std::to_string(kMaxDays) + " days, not " + std::to_string(days);
    return false;
  }
  return true;
}

int64_t to_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

// A new v3 certificate with a random positive 127-bit serial, `subject`'s name and
// validity; no extensions yet.
trust::X509Ptr new_certificate(std::string_view node_id, std::string_view inst_id, int days,
                               std::string& error) {
  trust::X509Ptr x(X509_new());
  unsigned char serial[16];
  if (!x || RAND_bytes(serial, sizeof serial) != 1) {
    error = "cannot create a certificate: " + trust::openssl_error_text();
    return nullptr;
  }
  serial[0] &= 0x7f;
  serial[0] |= 0x40;  // 16 bytes, positive, no leading zero byte
  trust::BignumPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  trust::Asn1IntegerPtr asn(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  X509_NAME* name = X509_get_subject_name(x.get());
  auto add = [&](int nid, std::string_view v) {
    return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(v.data()),
                                      static_cast<int>(v.size()), -1, 0) == 1;
  };
  if (!asn || X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(x.get(), asn.get()) != 1 || !add(NID_commonName, node_id) ||
      (!inst_id.empty() && !add(NID_organizationName, inst_id)) ||
      !X509_gmtime_adj(X509_getm_notBefore(x.get()), -kBackdateSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(x.get()), days, 0, nullptr)) {
    error = "cannot fill in the certificate: " + trust::openssl_error_text();
    return nullptr;
  }
  return x;
}

// One extension in OpenSSL's configuration syntax (fixed texts only, never input).
bool add_extension(X509* x, X509* issuer, int nid, const char* value, std::string& error) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  trust::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(x, ext.get(), -1) != 1) {
    error = std::string("cannot add the extension ") + OBJ_nid2sn(nid) + ": " +
            trust::openssl_error_text();
    return false;
  }
  return true;
}

bool push_name(GENERAL_NAMES* names, int type, std::string_view text) {
  using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, trust::OpensslFree<GENERAL_NAME_free>>;
  using Ia5Ptr = std::unique_ptr<ASN1_IA5STRING, trust::OpensslFree<ASN1_IA5STRING_free>>;
  GeneralNamePtr gn(GENERAL_NAME_new());
  Ia5Ptr s(ASN1_IA5STRING_new());
  if (!gn || !s || ASN1_STRING_set(s.get(), text.data(), static_cast<int>(text.size())) != 1)
    return false;
  GENERAL_NAME_set0_value(gn.get(), type, s.release());
  if (sk_GENERAL_NAME_push(names, gn.get()) <= 0) return false;
  gn.release();
  return true;
}

bool push_ip(GENERAL_NAMES* names, trust::Asn1OctetStringPtr ip) {
  using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, trust::OpensslFree<GENERAL_NAME_free>>;
  GeneralNamePtr gn(GENERAL_NAME_new());
  if (!gn) return false;
  GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip.release());
  if (sk_GENERAL_NAME_push(names, gn.get()) <= 0) return false;
  gn.release();
  return true;
}

// A DNS name of a TLS certificate: labels of letters, digits and '-', dot-separated.
bool is_dns_name(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.back() == '.' ||
      h.find("..") != std::string_view::npos)
    return false;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The subjectAltName: the node URI, then an IP or DNS name per host.
bool add_san(X509* x, std::string_view node_id, const std::vector<std::string>& hosts,
             std::string& error) {
  trust::GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names || !push_name(names.get(), GEN_URI, node_uri(node_id))) {
    error = "cannot build the subjectAltName: " + trust::openssl_error_text();
    return false;
  }
  for (const std::string& host : hosts) {
    trust::Asn1OctetStringPtr ip(a2i_IPADDRESS(host.c_str()));
    ERR_clear_error();  // not an IP literal: a DNS name
    bool ok = false;
    if (ip) {
      ok = push_ip(names.get(), std::move(ip));
    } else if (is_dns_name(host)) {
      ok = push_name(names.get(), GEN_DNS, host);
    } else {
      error = "host '" + host.substr(0, 64) +
              "' is neither an IP address nor a DNS name ([A-Za-z0-9.-])";
      return false;
    }
    if (!ok) {
      error = "cannot build the subjectAltName: " + trust::openssl_error_text();
      return false;
    }
  }
  if (X509_add1_ext_i2d(x, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    error = "cannot add the subjectAltName: " + trust::openssl_error_text();
    return false;
  }
  return true;
}

bool sign_certificate(X509* x, const NodeKey& key, std::string& error) {
  trust::EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (!md || !init_digest_sign(md.get(), key.get(), key.algorithm()) ||
      X509_sign_ctx(x, md.get()) <= 0) {
    error = "cannot sign the certificate with the " +
            std::string(key_algorithm_name(key.algorithm())) +
            " key: " + trust::openssl_error_text();
    return false;
  }
  return true;
}

// A private copy of `cert` to verify: for an SM2 issuer it carries the SM2 ID, which
// OpenSSL 3.0's X509_verify passes to the signature check (none is set on a parsed
// certificate). The shared object is never modified.
trust::X509Ptr copy_for_verify(const Certificate& cert, bool sm2_issuer) {
  trust::X509Ptr copy(X509_dup(cert.get()));
  if (copy && sm2_issuer) {
    trust::Asn1OctetStringPtr id(ASN1_OCTET_STRING_new());
    if (!id || ASN1_OCTET_STRING_set(
                   id.get(), reinterpret_cast<const unsigned char*>(kSm2DistinguishingId.data()),
                   static_cast<int>(kSm2DistinguishingId.size())) != 1)
      return nullptr;
    X509_set0_distinguishing_id(copy.get(), id.release());
  }
  return copy;
}

}  // namespace

std::optional<Certificate> Certificate::from_pem(std::string_view pem, std::string& error) {
  trust::BioPtr bio = trust::memory_bio(pem);
  trust::X509Ptr x(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!x) {
    error = "not a PEM certificate: " + trust::openssl_error_text();
    return std::nullopt;
  }
  return Certificate(std::move(x));
}

std::optional<std::vector<Certificate>> Certificate::chain_from_pem(std::string_view pem,
                                                                    std::string& error) {
  trust::BioPtr bio = trust::memory_bio(pem);
  if (!bio) {
    error = "cannot read the PEM text (too large, or out of memory)";
    return std::nullopt;
  }
  std::vector<Certificate> chain;
  while (trust::X509Ptr x{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (chain.size() == kMaxChain) {
      error = "more than " + std::to_string(kMaxChain) + " certificates in one chain";
      return std::nullopt;
    }
    chain.emplace_back(std::move(x));
  }
  // The reader stops with "no start line" at the end of the text; anything else is a
  // damaged certificate.
  unsigned long e = ERR_peek_last_error();
  if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
    error = "a damaged certificate after " + std::to_string(chain.size()) +
            " good ones: " + trust::openssl_error_text();
    return std::nullopt;
  }
  ERR_clear_error();
  if (chain.empty()) {
    error = "no PEM certificate found";
    return std::nullopt;
  }
  return chain;
}

Certificate::Certificate(const Certificate& other) : cert_(other.cert_.get()) {
  X509_up_ref(cert_.get());
}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    X509_up_ref(other.cert_.get());
    cert_.reset(other.cert_.get());
  }
  return *this;
}

std::string Certificate::pem() const {
  trust::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string Certificate::der() const {
  int n = i2d_X509(cert_.get(), nullptr);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_X509(cert_.get(), &p) != n) return {};
  return out;
}

std::string Certificate::fingerprint_hex() const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert_.get(), EVP_sha256(), md, &len) != 1) return {};
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::optional<std::string> Certificate::node_id() const { return certificate_node_id(cert_.get()); }

std::vector<std::string> Certificate::hosts() const {
  std::vector<std::string> out;
  trust::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert_.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type == GEN_DNS) {
      const ASN1_IA5STRING* s = n->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = n->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(ip);
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family && inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text))
        out.emplace_back(text);
    }
  }
  return out;
}

std::string Certificate::inst_id() const {
  X509_NAME* name = X509_get_subject_name(cert_.get());
  int i = X509_NAME_get_index_by_NID(name, NID_organizationName, -1);
  if (i < 0) return {};
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

int64_t Certificate::not_before_unix() const { return to_unix(X509_get0_notBefore(cert_.get())); }

int64_t Certificate::not_after_unix() const { return to_unix(X509_get0_notAfter(cert_.get())); }

bool Certificate::is_ca() const { return (X509_get_extension_flags(cert_.get()) & EXFLAG_CA) != 0; }

std::optional<PublicKey> Certificate::public_key(std::string& error) const {
  return PublicKey::from_certificate(cert_.get(), error);
}

std::string chain_pem(const std::vector<Certificate>& chain) {
  std::string out;
  for (const Certificate& c : chain) out += c.pem();
  return out;
}

std::optional<Certificate> make_root_certificate(const NodeKey& node_key, std::string_view node_id,
                                                 std::string_view inst_id, int days,
                                                 std::string& error) {
  if (!check_name(node_id, "node id", error) || !check_name(inst_id, "institution id", error) ||
      !check_days(days, error))
    return std::nullopt;
  trust::X509Ptr x = new_certificate(node_id, inst_id, days, error);
  if (!x) return std::nullopt;
  if (X509_set_issuer_name(x.get(), X509_get_subject_name(x.get())) != 1 ||
      X509_set_pubkey(x.get(), node_key.get()) != 1) {
    error = "cannot fill in the certificate: " + trust::openssl_error_text();
    return std::nullopt;
  }
  if (!add_extension(x.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0",
                     error) ||
      !add_extension(x.get(), x.get(), NID_key_usage,
                     "critical,keyCertSign,cRLSign,digitalSignature", error) ||
      !add_san(x.get(), node_id, {}, error) ||
      !add_extension(x.get(), x.get(), NID_subject_key_identifier, "hash", error) ||
      !sign_certificate(x.get(), node_key, error))
    return std::nullopt;
  return Certificate(std::move(x));
}

std::optional<Certificate> issue_tls_certificate(const NodeKey& root_key, const Certificate& root,
                                                 const PublicKey& tls_key, std::string_view node_id,
                                                 const std::vector<std::string>& hosts, int days,
                                                 std::string& error) {
  if (!check_name(node_id, "node id", error) || !check_days(days, error)) return std::nullopt;
  if (root.node_id() != std::optional<std::string>(node_id)) {
    error = "the root certificate does not name node " + std::string(node_id);
    return std::nullopt;
  }
  if (!root.is_ca() || X509_check_private_key(root.get(), root_key.get()) != 1) {
    ERR_clear_error();
    error = "the root certificate is not a CA certificate of this node key";
    return std::nullopt;
  }
  trust::X509Ptr x = new_certificate(node_id, {}, days, error);
  if (!x) return std::nullopt;
  if (X509_set_issuer_name(x.get(), X509_get_subject_name(root.get())) != 1 ||
      X509_set_pubkey(x.get(), tls_key.get()) != 1) {
    error = "cannot fill in the certificate: " + trust::openssl_error_text();
    return std::nullopt;
  }
  if (!add_san(x.get(), node_id, hosts, error) ||
      !add_extension(x.get(), root.get(), NID_ext_key_usage, "serverAuth,clientAuth", error) ||
      !add_extension(x.get(), root.get(), NID_key_usage, "critical,digitalSignature", error) ||
      !add_extension(x.get(), root.get(), NID_authority_key_identifier, "keyid:always", error) ||
      !sign_certificate(x.get(), root_key, error))
    return std::nullopt;
  return Certificate(std::move(x));
}

bool verify_issued_by(const Certificate& leaf, const Certificate& root, std::string& error) {
  std::string key_error;
  auto root_key = root.public_key(key_error);
  if (!root_key) {
    error = "the root certificate's key: " + key_error;
    return false;
  }
  const bool sm2 = root_key->algorithm() == KeyAlgorithm::kSm2;
  trust::X509Ptr leaf_copy = copy_for_verify(leaf, sm2);
  trust::X509Ptr root_copy = copy_for_verify(root, sm2);
  trust::X509StorePtr store(X509_STORE_new());
  trust::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!leaf_copy || !root_copy || !store || !ctx ||
      X509_STORE_add_cert(store.get(), root_copy.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf_copy.get(), nullptr) != 1) {
    error = "cannot set up the certificate check: " + trust::openssl_error_text();
    return false;
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  // The root's own signature too: a root whose self-signature does not check is no root.
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_CHECK_SS_SIGNATURE);
  if (X509_verify_cert(ctx.get()) != 1) {
    int code = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    error = std::string("the certificate does not chain to the root: ") +
            X509_verify_cert_error_string(code);
    return false;
  }
  auto root_node = root.node_id();
  auto leaf_node = leaf.node_id();
  if (!root_node) {
    error = "the root certificate names no node (no urn:ptp:node: URI)";
    return false;
  }
  if (leaf_node != root_node) {
    error = "the certificate names " + (leaf_node ? "node " + *leaf_node : std::string("no node")) +
            " but its root names node " + *root_node;
    return false;
  }
  return true;
}

bool verify_node_root(const Certificate& root, std::string_view node_id, std::string& error) {
  if (!root.is_ca()) {
    error = "the root certificate is not a CA certificate (basicConstraints CA:TRUE)";
    return false;
  }
  auto named = root.node_id();
  if (named != std::optional<std::string>(node_id)) {
    error = "the root certificate names " + (named ? "node " + *named : std::string("no node")) +
            ", not node " + std::string(node_id);
    return false;
  }
  if (X509_check_issued(root.get(), root.get()) != X509_V_OK) {
    error = "the root certificate is not self-issued";
    return false;
  }
  return verify_issued_by(root, root, error);
}

}  // namespace ptp
